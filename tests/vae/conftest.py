"""Shared fixtures of the VAE tests: the shipped checkpoint's session and small analytic VAEs."""

import numpy as np
import pytest
import torch

from explorer.vae import VAE, VAESession, load_checkpoint


@pytest.fixture(scope="session")
def shipped_session():
    return VAESession(None, device="cpu", n_samples=2000, n_iwae=50000, seed=0)


@pytest.fixture(scope="session")
def shipped_model():
    return load_checkpoint(None, device="cpu")


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
