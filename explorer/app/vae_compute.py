"""The VAE explorer's compute model: a digit's numbers on the sliders' grids, cached.

No widgets and no torch here: :class:`explorer.vae.VAESession` and
:meth:`explorer.vae.analysis.PointAnalysis.explore` compute (quadrature, Monte Carlo);
this object asks for them on the grids of :mod:`explorer.app.vae_state` and keeps them.

Selecting a test digit computes everything for that point once (~1-8 s on a busy 2-core
machine). The sliders then move on the grids the curves were computed on, so a move only
reads the cached arrays. Only the Monte Carlo sample count recomputes anything (estimates
from the first N of the cached draws, cached per (index, N)).
"""

from __future__ import annotations

from .core.cache import LRU
from .vae_state import K_GRID, LAM_GRID, MAX_ORDER, SCALE_GRID, T_GRID

#: Points per axis of the posterior heat map and draws from q shown on it.
POSTERIOR_GRID_POINTS = 129
POSTERIOR_SAMPLES = 150


class VAECompute:
    """Numbers of a :class:`~explorer.vae.VAESession`'s test digits (see the module docstring)."""

    def __init__(self, session):
        self.session = session
        self._points = LRU(32)
        self._mc = LRU(64)
        self._curves = LRU(16)

    def point(self, index, scale=1.0):
        """Everything exact (and the default Monte Carlo) for test digit ``index`` under the decoder
        with its weights scaled by ``scale`` (1: the trained model)."""
        i = self.session.check_index(index)
        return self._points.get_or((i, scale), lambda: self.session.scaled(scale).explore(
            i, lams=LAM_GRID.values, order=MAX_ORDER, temperatures=T_GRID.values,
            ks=[int(k) for k in K_GRID.values], max_grid_points=POSTERIOR_GRID_POINTS,
            n_q_draws=POSTERIOR_SAMPLES))

    def monte_carlo(self, index, samples, scale=1.0):
        """Monte Carlo F(λ), ELBO parts and the weights' tail diagnostics from the first ``samples``
        cached draws."""
        i = self.session.check_index(index)
        return self._mc.get_or((i, int(samples), scale), lambda: self.session.scaled(scale).point(i).monte_carlo(
            LAM_GRID.values, int(samples)))

    def weight_scale_curve(self, index):
        """Exact −ln p(x), −ELBO and the gap along the decoder weight scale grid."""
        i = self.session.check_index(index)
        return self._curves.get_or(i, lambda: self.session.weight_scale_curve(i, SCALE_GRID.values))

    def latents(self):
        return self.session.latent_means()

    @staticmethod
    def series_rows(point):
        """The series (rows: orders 1..MAX_ORDER): exact cumulants where known, else sample cumulants."""
        s = point["series"]
        return s["exact_kappa"] if s["exact_kappa"] is not None else s["mc_kappa"]
