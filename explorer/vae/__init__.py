"""The VAE layer: a torch VAE on binary images and the exact free energies of one data point.

Imports torch; nothing outside :mod:`explorer.vae` (and the CLI commands, lazily) imports it.

Main entry points
-----------------
``load_checkpoint(path=None, device="cpu") -> VAE``: ``model.encode(x) -> (mu, logvar)``,
``model.decode(z) -> logits``. ``train_vae(...) -> TrainResult``; ``save_checkpoint``.
``VAESession(checkpoint)``: ``.report(index, lam, order, temperature)``, ``.explore(index, ...)``,
``.latent_means()``, ``.scaled(c)`` (decoder weights × c), ``.weight_scale_curve(index, scales)``.
``PointAnalysis(model, x)`` and ``ExactPoint(log_joint, mu, logvar)`` underneath.
"""

from .analysis import PointAnalysis, VAESession, float64_copy, scale_decoder
from .checkpoint import load_checkpoint, save_checkpoint, shipped_checkpoint_path
from .data import BinaryDataset, load_dataset, load_digits_binary, load_npz_binary
from .device import select_device
from .estimators import free_energy_lambda_mc, importance_weight_diagnostics, iwae_bounds, psis, sample_cumulants
from .free_energy import ExactPoint, cumulants_from_moments, series_free_energy, weighted_cumulants
from .model import VAE
from .quadrature import integrate_2d
from .train import TrainResult, evaluate_elbo, train_vae

__all__ = [
    "VAE", "load_checkpoint", "save_checkpoint", "shipped_checkpoint_path", "train_vae", "TrainResult",
    "evaluate_elbo", "select_device", "BinaryDataset", "load_dataset", "load_digits_binary",
    "load_npz_binary", "ExactPoint", "PointAnalysis", "VAESession", "float64_copy", "integrate_2d",
    "iwae_bounds", "free_energy_lambda_mc", "sample_cumulants", "cumulants_from_moments",
    "weighted_cumulants", "series_free_energy", "scale_decoder", "importance_weight_diagnostics", "psis",
]
