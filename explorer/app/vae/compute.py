"""The VAE explorer's compute model: a digit's numbers on the sliders' grids, cached.

No widgets and no torch here: :class:`explorer.vae.VAESession` and
:meth:`explorer.vae.analysis.PointAnalysis.explore` compute (quadrature, Monte Carlo);
this object asks for them on the grids of :mod:`explorer.app.vae.state` and keeps them: the
frozen dataclasses of :mod:`explorer.vae.results` (numpy only: no torch).

Selecting a test digit computes everything for that point once (~1-8 s on a busy 2-core
machine). The sliders then move on the grids the curves were computed on, so a move only
reads the cached arrays. Only the Monte Carlo sample count recomputes anything (estimates
from the first N of the cached draws, cached per (index, N)).

The session is loaded when first needed (:class:`SessionLoader`): importing torch and loading
the checkpoint take ~3 s, and the first screen does not need them. Its numbers (the default
digit's exact analysis and Monte Carlo estimates) ship in ``explorer/data/default_view_vae.npz``
(:mod:`explorer.app.core.default_view`), keyed on the checkpoint file's bytes, the grids and the
session's sampling parameters; :meth:`VAECompute.seed_default_view` puts them into the caches.
Anything else (another digit, decoder scale or sample count, the latent means, the weight scale
curve) asks for the session, which loads it or waits for the background load to finish.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from pathlib import Path

import numpy as np

from ..._cache import cache_dir
from ..._hashing import file_sha256, source_sha256
from ...vae.results import MonteCarloEstimates, PointExploration, WeightScaleCurve  # numpy only: no torch
from ..core import default_view
from ..core.cache import LRU
from .state import K_GRID, LAM_GRID, MAX_ORDER, SCALE_GRID, T_GRID

#: Points per axis of the posterior heat map and draws from q shown on it.
POSTERIOR_GRID_POINTS = 129
POSTERIOR_SAMPLES = 150
#: The Monte Carlo pool of the app's sessions: draws for the estimates, the IWAE pool, the seed.
#: Passed explicitly (they equal :class:`~explorer.vae.VAESession`'s defaults) so that the
#: default view's fingerprint names them without importing torch.
SESSION_SAMPLES, SESSION_IWAE_POOL, SESSION_SEED = 5000, 50000, 0
#: The checkpoint shipped with the package (what ``VAESession(checkpoint=None)`` loads).
SHIPPED_CHECKPOINT = Path(__file__).resolve().parents[2] / "data" / "vae_digits_2d.pt"
#: The code whose numbers the disk cache keeps (its fingerprint keys every stored digit).
VAE_PACKAGE = Path(__file__).resolve().parents[2] / "vae"
#: Stored digits live in this folder of the cache directory; the oldest beyond STORE_FILES go.
STORE_DIR, STORE_FILES = "vae_digits", 400
#: Niceness of the thread that loads the session in the background: below the kernel's main
#: thread, which serves the page meanwhile.
BACKGROUND_NICENESS = 10


def _lower_this_threads_priority(niceness):
    """Give the calling thread at least ``niceness`` (Linux only: there a niceness is per thread;
    elsewhere it would be the whole kernel's, which then serves the page slower)."""
    if not sys.platform.startswith("linux"):
        return
    tid = threading.get_native_id()
    with contextlib.suppress(OSError):
        if os.getpriority(os.PRIO_PROCESS, tid) < niceness:
            os.setpriority(os.PRIO_PROCESS, tid, niceness)


class SessionLoader:
    """A :class:`~explorer.vae.VAESession` made once, when first asked for; safe across threads.

    Parameters
    ----------
    make : callable
        ``make() -> VAESession``; called until it succeeds once (an error reaches the caller of
        :meth:`get`).
    checkpoint : path-like, optional
        The checkpoint file ``make`` loads (its bytes key the default view); None when unknown.
    """

    def __init__(self, make, checkpoint=None):
        self._make = make
        self.checkpoint = checkpoint
        self._session = None
        self._lock = threading.Lock()
        self._thread = None

    @classmethod
    def of(cls, session):
        """A loader holding the already loaded ``session``."""
        loader = cls(lambda: session)
        loader._session = session
        return loader

    @property
    def loaded(self):
        return self._session is not None

    def get(self):
        """The session: loaded here, or waited for while another thread loads it."""
        session = self._session
        if session is None:
            with self._lock:
                if self._session is None:
                    self._session = self._make()
                session = self._session
        return session

    def start_background(self, niceness=BACKGROUND_NICENESS):
        """Begin loading in a daemon thread at low CPU priority; returns the thread, or None when
        the session is loaded or loading already."""
        if self.loaded or (self._thread is not None and self._thread.is_alive()):
            return None

        def work():
            _lower_this_threads_priority(niceness)
            # a failed load is not reported here: get() in the foreground tries again and the
            # explorer shows that error where the session is needed
            with contextlib.suppress(Exception):
                self.get()

        self._thread = threading.Thread(target=work, name="vae-explorer-session", daemon=True)
        self._thread.start()
        return self._thread


class VAECompute:
    """Numbers of a :class:`~explorer.vae.VAESession`'s test digits (see the module docstring).

    Parameters
    ----------
    session : VAESession, optional
        A loaded session (tests, a model trained in the explorer).
    loader : SessionLoader, optional
        Where the session comes from when first needed (:meth:`load_lazily`); give this or ``session``.
    disk_cache : bool
        Keep each digit's numbers on disk and read them back (:meth:`_stored`); False computes
        everything (the drift tests' fresh side).
    """

    def __init__(self, session=None, *, loader=None, disk_cache=True):
        if (session is None) == (loader is None):
            raise TypeError("VAECompute needs either a session or a loader")
        self.loader = SessionLoader.of(session) if loader is None else loader
        self.disk_cache = bool(disk_cache)
        self._points = LRU(32)
        self._mc = LRU(64)
        self._curves = LRU(16)
        self._default_n_test = None     # the test set's size, from the default view
        self._seeded_indices = set()    # digits whose numbers came from the default view

    @classmethod
    def load_lazily(cls, checkpoint=None):
        """A compute model whose session (``checkpoint``, default the shipped one) loads when first
        needed, with the app's sampling parameters."""
        def make():
            from ...vae.native import load_torch_libraries

            # torch's libraries first, with Python's lock released: a background load then never
            # stops this kernel from reading the page's messages (explorer.vae.native)
            load_torch_libraries()
            from ...vae import VAESession  # torch: imported only here, when a number needs the model
            return VAESession(checkpoint=checkpoint, device="cpu", n_samples=SESSION_SAMPLES,
                              n_iwae=SESSION_IWAE_POOL, seed=SESSION_SEED)
        return cls(loader=SessionLoader(make, SHIPPED_CHECKPOINT if checkpoint is None else Path(checkpoint)))

    @property
    def session(self):
        """The :class:`~explorer.vae.VAESession` (loaded now if it is not yet)."""
        return self.loader.get()

    @property
    def n_test(self):
        """Number of test digits (from the default view while the session is not loaded)."""
        if self._default_n_test is not None and not self.loader.loaded:
            return self._default_n_test
        return self.session.n_test

    def check_index(self, index):
        """``index`` as a valid test index (:class:`~explorer.errors.InputError` otherwise). A digit of
        the default view needs no session; any other is checked by the session."""
        if isinstance(index, (int, np.integer)) and not isinstance(index, bool) and int(index) in self._seeded_indices:
            return int(index)
        return self.session.check_index(index)

    def point(self, index, scale=1.0):
        """Everything exact (and the default Monte Carlo) for test digit ``index`` under the decoder
        with its weights scaled by ``scale`` (1: the trained model): a
        :class:`~explorer.vae.results.PointExploration`."""
        i = self.check_index(index)
        return self._points.get_or((i, scale), lambda: self._stored("point", i, scale, lambda: self.session.scaled(
            scale).explore(i, lams=LAM_GRID.values, order=MAX_ORDER, temperatures=T_GRID.values,
                           ks=[int(k) for k in K_GRID.values], max_grid_points=POSTERIOR_GRID_POINTS,
                           n_q_draws=POSTERIOR_SAMPLES), PointExploration))

    def monte_carlo(self, index, samples, scale=1.0):
        """Monte Carlo F(λ), ELBO parts and the weights' tail diagnostics from the first ``samples``
        cached draws (:class:`~explorer.vae.results.MonteCarloEstimates`)."""
        i = self.check_index(index)
        return self._mc.get_or((i, int(samples), scale), lambda: self.session.scaled(scale).point(i).monte_carlo(
            LAM_GRID.values, int(samples)))

    def weight_scale_curve(self, index):
        """Exact −ln p(x), −ELBO and the gap along the decoder weight scale grid
        (:class:`~explorer.vae.results.WeightScaleCurve`)."""
        i = self.session.check_index(index)
        return self._curves.get_or(i, lambda: self._stored(
            "weight_scale_curve", i, 1.0, lambda: self.session.weight_scale_curve(i, SCALE_GRID.values),
            WeightScaleCurve))

    def latents(self):
        """The encoder's means of every test digit (:class:`~explorer.vae.results.LatentMeans`)."""
        return self.session.latent_means()

    # ------------------------------------------------------------------ the disk cache
    def _stored(self, kind, index, scale, compute, result_type=None):
        """``compute()``'s result for digit ``index`` at decoder scale ``scale``, kept on disk.

        Selecting a digit costs seconds of quadrature; in a class many kernels select the same
        digits (the presets), and a restarted kernel selects them again. The result is stored in
        :func:`~explorer._cache.cache_dir` under a fingerprint of everything it depends on
        (:meth:`_disk_key`), as a tree read back with the default view's codec (no pickle), and a
        stale, damaged or unwritable file only means the numbers are computed. ``result_type``: the
        class of the result (its ``to_tree`` is stored, its ``from_tree`` reads it back; None: the
        result is a tree itself).
        """
        key = self._disk_key(kind, index, scale)
        if key is None:
            return compute()
        path = Path(cache_dir()) / STORE_DIR / f"{kind}_{key}.npz"
        tree = default_view.read(kind, key, path)
        if tree is not None:
            return tree if result_type is None else result_type.from_tree(tree)
        result = compute()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            default_view.write(kind, key, result if result_type is None else result.to_tree(), path)
            _prune(path.parent, STORE_FILES)
        except OSError:
            pass        # a read-only or full disk: the numbers are shown all the same
        return result

    def _disk_key(self, kind, index, scale):
        """Fingerprint of a digit's stored numbers: the code of :mod:`explorer.vae` and the library
        versions, the checkpoint's bytes, the session's sampling parameters, the grids, the digit's
        pixels and the decoder scale; None when nothing is stored (switched off, or a model that
        was never saved to a file)."""
        session = self.session
        path = getattr(session.model, "checkpoint_path", None)
        if not self.disk_cache or path is None:
            return None
        try:
            checkpoint = file_sha256(path)
        except OSError:
            return None
        pixels, _ = session.test_image(index)
        return default_view.fingerprint(
            kind, source_sha256(VAE_PACKAGE), np.__version__, sys.modules["torch"].__version__, checkpoint,
            str(session.model.device), session.n_samples, session.n_iwae, session.seed, LAM_GRID.values,
            T_GRID.values, np.asarray([int(k) for k in K_GRID.values]), SCALE_GRID.values, MAX_ORDER,
            POSTERIOR_GRID_POINTS, POSTERIOR_SAMPLES, np.asarray(pixels, dtype=float), int(index), float(scale))

    @staticmethod
    def series_rows(point):
        """The series (rows: orders 1..MAX_ORDER): exact cumulants where known, else sample cumulants."""
        s = point.series
        return s.exact_kappa if s.exact_kappa is not None else s.mc_kappa

    # ------------------------------------------------------------------ default view
    def default_view_key(self, index, samples):
        """Fingerprint of what the first screen of digit ``index`` with ``samples`` Monte Carlo draws
        depends on besides the code (see :mod:`explorer.app.core.default_view`): the checkpoint
        file's bytes, the grids, the digit, the sample count and the session's sampling parameters;
        None when the session was handed over (its data or parameters are not known here) or its
        checkpoint cannot be read."""
        if self.loader.checkpoint is None:
            return None
        try:
            checkpoint = file_sha256(self.loader.checkpoint)
        except OSError:
            return None
        return default_view.fingerprint(
            checkpoint, "cpu", SESSION_SAMPLES, SESSION_IWAE_POOL, SESSION_SEED, LAM_GRID.values, T_GRID.values,
            np.asarray([int(k) for k in K_GRID.values]), MAX_ORDER, POSTERIOR_GRID_POINTS, POSTERIOR_SAMPLES,
            int(index), int(samples), 1.0)

    def default_view(self, index, samples):
        """The numbers of the first screen of digit ``index`` (decoder scale 1, ``samples`` Monte
        Carlo draws), computed, as a tree for :func:`explorer.app.core.default_view.write` (the
        file's layout): ``point`` (:meth:`point`), ``monte_carlo`` (:meth:`monte_carlo`), each as
        its ``to_tree()``, and ``n_test``."""
        return {"point": self.point(index, 1.0).to_tree(), "monte_carlo": self.monte_carlo(index, samples).to_tree(),
                "n_test": int(self.n_test)}

    def seed_default_view(self, index, samples, path=None):
        """Put the shipped numbers of digit ``index`` with ``samples`` draws into the caches, if the
        file (default ``explorer/data/default_view_vae.npz``) holds them for this checkpoint and
        these grids; returns whether it did (else they are computed when asked for)."""
        key = self.default_view_key(index, samples)
        tree = None if key is None else default_view.read("vae", key, path)
        if tree is None:
            return False
        i, n = int(index), int(samples)
        point = PointExploration.from_tree(tree["point"])
        mc = MonteCarloEstimates.from_tree(tree["monte_carlo"])
        self._points.get_or((i, 1.0), lambda: point)
        self._mc.get_or((i, n, 1.0), lambda: mc)
        self._default_n_test = int(tree["n_test"])
        self._seeded_indices.add(i)
        return True


def _prune(directory, keep):
    """Remove the oldest ``.npz`` files of ``directory`` beyond the newest ``keep`` (the cache stays
    bounded: a digit's numbers weigh ~0.1-0.2 MB)."""
    files = []
    for f in Path(directory).glob("*.npz"):
        with contextlib.suppress(OSError):
            files.append((f.stat().st_mtime, f))
    for _, f in sorted(files, reverse=True)[keep:]:
        with contextlib.suppress(OSError):
            f.unlink()
