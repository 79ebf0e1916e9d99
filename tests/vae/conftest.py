"""Shared fixtures of the VAE tests: the shipped checkpoint and its session."""

import pytest

from explorer.vae import VAESession, load_checkpoint


@pytest.fixture(scope="session")
def shipped_session():
    return VAESession(None, device="cpu", n_samples=2000, n_iwae=50000, seed=0)


@pytest.fixture(scope="session")
def shipped_model():
    return load_checkpoint(None, device="cpu")
