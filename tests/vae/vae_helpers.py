"""Analytic VAEs for the tests (a decoder that ignores z) and their closed forms."""

import numpy as np
import torch

from explorer.vae import VAE


def constant_decoder_vae(seed=0, n_input=16):
    """A VAE whose decoder ignores z: the last layer's weights are zero, so p(x|z) = Π Bern(x; σ(b))."""
    torch.manual_seed(seed)
    m = VAE(n_input=n_input, n_hidden=8, n_latent=2).double()
    with torch.no_grad():
        m.decoder[2].weight.zero_()
        m.decoder[2].bias.copy_(torch.linspace(-2.0, 2.0, n_input, dtype=torch.float64))
    return m.eval()


def closed_form_neg_log_px(model, x):
    b = model.decoder[2].bias.detach().numpy()
    # -ln Π σ(b)^x (1-σ(b))^(1-x) = Σ softplus(b) - x b
    return float(np.sum(np.logaddexp(0.0, b) - x * b))
