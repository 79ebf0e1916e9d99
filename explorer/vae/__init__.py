"""The VAE layer: a torch VAE on binary images and the exact free energies of one data point.

torch is imported by the modules that compute (nothing outside :mod:`explorer.vae`, and the CLI
commands lazily, imports it). The names below are imported when first used, so that
:mod:`explorer.vae.results` (what the layer returns: frozen dataclasses of numpy arrays, no torch)
can be imported on its own: the app holds the shipped numbers of its first screen in them
without importing torch.

Main entry points
-----------------
``load_checkpoint(path=None, device="cpu") -> VAE``: ``model.encode(x) -> (mu, logvar)``,
``model.decode(z) -> logits``. ``train_vae(...) -> TrainResult``; ``save_checkpoint``.
``VAESession(checkpoint)``: ``.report(index, lam, order, temperature)`` (the ``vae-report`` JSON
document), ``.explore(index, ...) -> PointExploration``, ``.latent_means() -> LatentMeans``,
``.scaled(c)`` (decoder weights × c), ``.weight_scale_curve(index, scales) -> WeightScaleCurve``.
``PointAnalysis(model, x)`` and ``ExactPoint(log_joint, mu, logvar)`` underneath.
"""

from .._lazy import lazy_exports

#: name -> the module that defines it (imported when the name is first used).
_EXPORTS = {
    "PointAnalysis": ".analysis", "VAESession": ".analysis", "float64_copy": ".analysis",
    "scale_decoder": ".analysis",
    "load_checkpoint": ".checkpoint", "save_checkpoint": ".checkpoint", "shipped_checkpoint_path": ".checkpoint",
    "BinaryDataset": ".data", "load_dataset": ".data", "load_digits_binary": ".data", "load_npz_binary": ".data",
    "select_device": ".device",
    "free_energy_lambda_mc": ".estimators", "importance_weight_diagnostics": ".estimators",
    "iwae_bounds": ".estimators", "psis": ".estimators", "sample_cumulants": ".estimators",
    "ExactPoint": ".free_energy", "cumulants_from_moments": ".free_energy", "series_free_energy": ".free_energy",
    "weighted_cumulants": ".free_energy",
    "VAE": ".model",
    "integrate_2d": ".quadrature",
    "TrainResult": ".train", "evaluate_elbo": ".train", "train_vae": ".train",
    "PointExploration": ".results", "MonteCarloEstimates": ".results", "WeightScaleCurve": ".results",
    "LatentMeans": ".results", "ImportanceWeights": ".results",
}

__all__ = [
    "VAE", "load_checkpoint", "save_checkpoint", "shipped_checkpoint_path", "train_vae", "TrainResult",
    "evaluate_elbo", "select_device", "BinaryDataset", "load_dataset", "load_digits_binary",
    "load_npz_binary", "ExactPoint", "PointAnalysis", "VAESession", "float64_copy", "integrate_2d",
    "iwae_bounds", "free_energy_lambda_mc", "sample_cumulants", "cumulants_from_moments",
    "weighted_cumulants", "series_free_energy", "scale_decoder", "importance_weight_diagnostics", "psis",
    "PointExploration", "MonteCarloEstimates", "WeightScaleCurve", "LatentMeans", "ImportanceWeights",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
