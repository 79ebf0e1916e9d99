"""The VAE: MLP encoder -> diagonal Gaussian q(z|x), MLP decoder -> Bernoulli logits, prior N(0, I).

Energies follow docs/physics.md (VAE): ``H(z) = -ln p(x, z) = -ln p(x|z) - ln p(z)`` and
``V = ln q(z|x) - ln p(x, z)``. The hidden activations are tanh, not ReLU: the
integrand ``exp(-H)`` is then analytic in z, which is what makes the quadrature of
:mod:`explorer.vae.quadrature` converge exponentially fast under refinement.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.distributions import Bernoulli, Normal

from ..errors import InputError

LOG_2PI = math.log(2.0 * math.pi)


class VAE(nn.Module):
    """Variational autoencoder for binary images.

    Parameters
    ----------
    n_input : int
        Pixels per image (64 for the 8x8 digits).
    n_hidden : int
        Width of the single tanh hidden layer of encoder and decoder.
    n_latent : int
        Latent dimension (2 by default: the exact quadrature needs 2).
    """

    def __init__(self, n_input=64, n_hidden=128, n_latent=2):
        super().__init__()
        for name, v in (("n_input", n_input), ("n_hidden", n_hidden), ("n_latent", n_latent)):
            if isinstance(v, bool) or int(v) != v or int(v) < 1:
                raise InputError(f"{name} must be a positive integer, got {v!r}")
        self.n_input, self.n_hidden, self.n_latent = int(n_input), int(n_hidden), int(n_latent)
        self.encoder = nn.Sequential(nn.Linear(self.n_input, self.n_hidden), nn.Tanh())
        self.enc_mu = nn.Linear(self.n_hidden, self.n_latent)
        self.enc_logvar = nn.Linear(self.n_hidden, self.n_latent)
        self.decoder = nn.Sequential(nn.Linear(self.n_latent, self.n_hidden), nn.Tanh(),
                                     nn.Linear(self.n_hidden, self.n_input))
        #: Plain metadata record (filled by training or :func:`load_checkpoint`).
        self.metadata = {}

    # ----------------------------------------------------------------- basics
    @property
    def config(self):
        """Architecture as a plain dict (stored in checkpoints)."""
        return {"n_input": self.n_input, "n_hidden": self.n_hidden, "n_latent": self.n_latent,
                "activation": "tanh"}

    @property
    def device(self):
        return next(self.parameters()).device

    @property
    def dtype(self):
        return next(self.parameters()).dtype

    def as_tensor(self, x):
        """``x`` as a tensor of this model's dtype on this model's device."""
        return torch.as_tensor(x, dtype=self.dtype, device=self.device)

    # --------------------------------------------------------------- networks
    def encode(self, x):
        """Parameters of q(z|x): ``(mu, logvar)``, each of shape (..., n_latent)."""
        h = self.encoder(x)
        # Clamp keeps exp(logvar) finite for the odd unseen input; training never reaches the bounds.
        return self.enc_mu(h), self.enc_logvar(h).clamp(-30.0, 20.0)

    def decode(self, z):
        """Bernoulli logits of p(x|z), shape (..., n_input)."""
        return self.decoder(z)

    # ------------------------------------------------------------- densities
    def log_likelihood(self, x, z):
        """ln p(x|z) summed over pixels; ``x`` broadcasts against ``decode(z)``."""
        logits = self.decode(z)
        # validate_args off: this sits in the quadrature's inner loop; x is checked once at the entry points.
        return Bernoulli(logits=logits, validate_args=False).log_prob(x).sum(-1)

    @staticmethod
    def log_prior(z):
        """ln N(z; 0, I)."""
        return Normal(torch.zeros((), dtype=z.dtype, device=z.device),
                      torch.ones((), dtype=z.dtype, device=z.device)).log_prob(z).sum(-1)

    @staticmethod
    def log_q(z, mu, logvar):
        """ln q(z|x) of the diagonal Gaussian with ``(mu, logvar)``."""
        return Normal(mu, torch.exp(0.5 * logvar), validate_args=False).log_prob(z).sum(-1)

    def log_joint(self, x, z):
        """ln p(x, z) = -H(z)."""
        return self.log_likelihood(x, z) + self.log_prior(z)

    @staticmethod
    def kl_prior(mu, logvar):
        """KL(q(z|x) || N(0, I)) = -1/2 sum(1 + ln s^2 - mu^2 - s^2), closed form."""
        return -0.5 * torch.sum(1.0 + logvar - mu.pow(2) - logvar.exp(), dim=-1)

    @staticmethod
    def entropy_q(logvar):
        """Differential entropy S[q] = 1/2 sum(1 + ln 2 pi + ln s^2), closed form."""
        return 0.5 * torch.sum(1.0 + LOG_2PI + logvar, dim=-1)

    def elbo(self, x, eps=None, beta=1.0, generator=None):
        """Reparameterised ELBO per row: E_q[ln p(x|z)] - beta KL(q || prior).

        Parameters
        ----------
        x : tensor (n, n_input)
        eps : tensor (s, n, n_latent), optional
            Standard-normal noise (s samples per row); fresh noise from ``generator`` when None
            (one sample). Fixed ``eps`` gives common random numbers for early stopping.
        beta : float
            KL weight (1 is the true ELBO).

        Returns
        -------
        tensor (n,)
        """
        mu, logvar = self.encode(x)
        if eps is None:
            eps = torch.randn(mu.shape, dtype=mu.dtype, device=mu.device, generator=generator)[None]
        z = mu + torch.exp(0.5 * logvar) * eps
        rec = self.log_likelihood(x, z).mean(0)
        return rec - beta * self.kl_prior(mu, logvar)

    def forward(self, x):
        return self.encode(x)
