"""The RBM explorer's compute model: which RBM a State means, and its numbers, cached.

No widgets here: every method takes the :class:`~explorer.app.rbm.state.State` (and, for an
uploaded model, the bytes this object holds) and returns the physics layer's numbers.

Speed: a whole temperature sweep (201 temperatures) costs ~0.5 s for a 12 x 12 RBM, far
too slow for a slider, so it is cached and recomputed only when the model, the weight
norm, the order, the reference or λ change. A temperature move only reads the cached
curves at a grid index and computes the per-temperature quantities, which are cached too.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path

import numpy as np

from ...errors import EnumerationLimitError, InputError
from ...rbm.exact import check_enumerable
from ...rbm.explore import PointQuantities, ais_free_energies, point_quantities, rescaling_curves
from ...rbm.model import RBM
from ...rbm.sweeps import Curves, temperature_sweep, weight_norm_sweep
from ..core import default_view
from ..core.cache import LRU
from ..core.state import portable_powers
from .state import LAM_MAX, LAM_MIN, NORM_MAX, T_GRID

#: Largest min(n_visible, n_hidden) the app enumerates: 2^14 states x 201 temperatures
#: takes a few seconds here; beyond that the app would stop feeling interactive.
APP_ENUMERATION_LIMIT = 14
#: Largest accepted upload. An enumerable RBM's .npz is a few kB; the cap keeps one student's
#: upload from filling a shared kernel's memory.
MAX_UPLOAD_BYTES = 2_000_000
BARS_STRIPES_PATH = Path(__file__).resolve().parents[2] / "data" / "rbm_bars_stripes_3x3.npz"
#: Temperatures of the AIS estimates (on the T grid) and of the rescaling markers.
AIS_TEMPERATURES = np.array([T_GRID.snap(t) for t in portable_powers(10, -0.8, 0.8, 9)])
SCALING_POINTS = portable_powers(10, -0.9, 0.9, 10)
SCALING_WEIGHTS = portable_powers(10, -1.0, 1.0, 41)
AIS_CHAINS, AIS_STEPS = 100, 300
#: Points of the curves along ‖W‖ (from 0 to the norm slider's end).
NORM_POINTS = 61
#: λ values of the F(λ) plot: 0 (where F_n(0) = −T ln Z_q for every n) to 2 in steps of 0.1.
LAM_CURVE = np.round(np.linspace(LAM_MIN, LAM_MAX, 21), 12)


def check_app_size(nv, nh):
    """Readable refusal of models too large to enumerate (or too slow to explore)."""
    check_enumerable(type("Shape", (), {"n_visible": nv, "n_hidden": nh})())  # beyond 24: the core's message
    small = min(nv, nh)
    if small > APP_ENUMERATION_LIMIT:
        raise EnumerationLimitError(
            f"{nv} × {nh} is too large for the explorer: the exact curves enumerate all 2^{small} "
            f"states of the smaller layer at 201 temperatures, which takes minutes; use at most "
            f"{APP_ENUMERATION_LIMIT} units in one of the layers")


class RBMCompute:
    """Numbers for a State, cached (see the module docstring).

    Parameters
    ----------
    run_ais : bool
        Compute the sampling estimates of the AIS panel.
    """

    def __init__(self, run_ais=True):
        self.run_ais = run_ais
        self.upload = None           # (name, bytes) of the uploaded file the state's "upload" means
        self.good_upload = None      # ... and of the last one that loaded
        self.trained = None          # (name, RBM) the state's "trained" means (the Learning tab's)
        self._trained_serial = 0
        self._models = LRU(4)
        self._curves = LRU(8)
        self._points = LRU(512)
        self._extras = LRU(8)
        self._norm_curves = LRU(64)

    def set_trained(self, name, rbm):
        """The model the state's ``model="trained"`` means from now on (each one cached apart)."""
        self.trained = (name, rbm)
        self._trained_serial += 1

    # ------------------------------------------------------------------ the model
    def model_key(self, state):
        if state.model == "random":
            return ("random", state.nv, state.nh, state.seed)
        if state.model == "upload":
            return ("upload",) if self.upload is None else ("upload", self.upload[0], hash(self.upload[1]))
        if state.model == "trained":
            return ("trained",) if self.trained is None else ("trained", self._trained_serial)
        return (state.model,)

    def base_model(self, state):
        """The RBM the model controls choose (its own weight norm); InputError with a readable message."""
        key = self.model_key(state)
        rbm = self._models.get_or(key, lambda: self._load(state))
        if state.model == "upload":
            self.good_upload = self.upload
        return rbm

    def _load(self, state):
        if state.model == "random":
            check_app_size(state.nv, state.nh)
            return RBM.random(state.nv, state.nh, seed=state.seed)
        if state.model == "bars-stripes":
            if not BARS_STRIPES_PATH.is_file():
                raise InputError("the bars-and-stripes model is not available in this installation")
            rbm = RBM.load(BARS_STRIPES_PATH)
        elif state.model == "trained":
            if self.trained is None:
                raise InputError("train a model in the Learning tab first, then press Explore this model")
            rbm = self.trained[1]
        else:
            rbm = self._load_upload()
        check_app_size(rbm.n_visible, rbm.n_hidden)
        return rbm

    def _load_upload(self):
        if self.upload is None:
            raise InputError("choose an .npz file with the Upload button first")
        name, content = self.upload
        if len(content) > MAX_UPLOAD_BYTES:
            raise InputError(f"{name} is {len(content) / 1e6:.1f} MB; uploads are limited to "
                             f"{MAX_UPLOAD_BYTES // 1_000_000} MB (an RBM small enough to enumerate "
                             f"takes a few kB)")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "upload.npz")
            with open(path, "wb") as fh:
                fh.write(content)
            try:
                return RBM.load(path)
            except InputError as exc:
                # the core names the temporary path; the user knows the file by its name
                raise InputError(str(exc).replace(path, name)) from None

    def rbm(self, state):
        """The RBM a State means: the chosen model with its weight norm set to ``state.norm``."""
        base = self.base_model(state)
        if state.norm is None or abs(state.norm - base.weight_norm) < 1e-9:
            return base
        return base.with_weight_norm(state.norm)

    def weight_norm(self, state):
        base = self.base_model(state)
        return base.weight_norm if state.norm is None else float(state.norm)

    # ------------------------------------------------------------------ numbers
    def curve_key(self, state):
        return (self.model_key(state), None if state.norm is None else round(state.norm, 9), state.order,
                state.ref, state.lam)

    def curves(self, state):
        """The sweep along the T grid at the state's norm, order, reference and λ."""
        return self._curves.get_or(self.curve_key(state), lambda: temperature_sweep(
            self.rbm(state), T_GRID.values, order=state.order, lam=state.lam, reference=state.ref))

    def point_key(self, state):
        return self.curve_key(state) + (state.T,)

    def point(self, state):
        """F(λ) on :data:`LAM_CURVE` (plus the state's λ), κ and magnetisations at the state's T."""
        lams = np.union1d(LAM_CURVE, [state.lam])
        return self._points.get_or(self.point_key(state), lambda: point_quantities(
            self.rbm(state), state.T, lams, order=state.order, reference=state.ref))

    # ------------------------------------------------------------------ the default view on disk
    def default_view_key(self, state):
        """Fingerprint of what ``state``'s first screen depends on besides the code (see
        :mod:`explorer.app.core.default_view`): the RBM's parameters, the grids, the state."""
        rbm = self.rbm(state)
        return default_view.fingerprint(rbm.weights, rbm.visible_bias, rbm.hidden_bias, T_GRID.values, LAM_CURVE,
                                        self.point_key(state))

    def default_view(self, state):
        """The numbers of ``state``'s first screen (the Free energy panel): its sweep along T and
        its per-temperature quantities, as a tree for :func:`explorer.app.core.default_view.write`."""
        return {"curves": self.curves(state).as_dict(), "point": dataclasses.asdict(self.point(state))}

    def seed_default_view(self, state, path=None):
        """Put the shipped numbers of ``state``'s first screen into the caches, if the file holds
        them for this model and these grids; returns whether it did (else they are computed)."""
        if self.model_key(state)[0] != "random":
            return False
        tree = default_view.read("rbm", self.default_view_key(state), path)
        if tree is None:
            return False
        self._curves.get_or(self.curve_key(state), lambda: Curves(**tree["curves"]))
        self._points.get_or(self.point_key(state), lambda: PointQuantities(**tree["point"]))
        return True

    def norm_grid(self, state):
        """‖W‖ values of the curves along the weight norm: 0 to the slider's end for this model."""
        return np.linspace(0.0, max(NORM_MAX, float(np.ceil(2 * self.base_model(state).weight_norm))), NORM_POINTS)

    def norm_curves(self, state):
        """The sweep along ‖W‖ at the state's temperature, order, reference and λ (biases kept)."""
        key = (self.model_key(state), state.T, state.order, state.ref, state.lam)
        return self._norm_curves.get_or(key, lambda: weight_norm_sweep(
            self.base_model(state), self.norm_grid(state), temperature=state.T, order=state.order, lam=state.lam,
            reference=state.ref))

    def rescaling(self, state):
        """−ln Z of rescaled models at T = 1 (the Rescaling panel)."""
        def make():
            r = rescaling_curves(self.rbm(state), SCALING_POINTS, SCALING_WEIGHTS)
            return SCALING_POINTS, r["all_parameters"], SCALING_WEIGHTS, r["weights_only"], r["norms"]
        return self._extras.get_or(("scaling",) + self.curve_key(state)[:2], make)

    def ais(self, state):
        """``(temperatures, F_AIS, stderr)``, or a sentence saying why there is none."""
        if not self.run_ais:
            return "Sampling estimates are switched off."

        def make():
            try:
                f, err = ais_free_energies(self.rbm(state), AIS_TEMPERATURES, n_chains=AIS_CHAINS,
                                           n_steps=AIS_STEPS, seed=0)
            except InputError as exc:   # the exact curves are still worth showing
                return f"No sampling estimate for this model: {exc}"
            return AIS_TEMPERATURES, f, err
        return self._extras.get_or(("ais",) + self.curve_key(state)[:2], make)
