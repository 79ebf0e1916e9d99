"""The VAE explorer's "Hold q" tab: the student moves a Gaussian q, fits it, and sees the exact gaps.

One compute model (:class:`HoldQCompute`: cached calls into :mod:`explorer.vae.variational`), one view
(:class:`explorer.views.vae.hold_q.HoldQView`) and this small controller (:class:`HoldQ`). The held q is plain
values (mean, σ1, σ2, ρ) that each control passes on as arguments; nothing reads a widget back.

The tab follows the explorer's digit and decoder scale c (a new digit or c: q starts from the encoder's
q again) and its temperature (the readout adds the bound E_q[H] − T·S[q] on the exact F_T).
"""

from __future__ import annotations

import itertools
import math
import weakref
from dataclasses import dataclass

import ipywidgets as W
import numpy as np

from ...vae.results import BoundTerms, VariationalGaps  # numpy only: no torch
from ...views.html import Html, fmt, readout_html, status_html
from ...views.vae.hold_q import HoldQView
from ..core import Panel
from ..core.cache import LRU
from ..core.components import BackgroundJob, held, play_control
from ..core.controls import SliderEchoes
from ..core.lazy import LazyWidgets
from ..core.scheduling import Coalescer, running_loop
from .state import POINT_FIELDS, T_GRID

SIGMA_EXP_MIN, SIGMA_EXP_MAX, SIGMA_EXP_STEP = -2.0, 0.5, 0.01     # σ in [0.01, 3.16]
RHO_MAX = 0.99
#: The mean's sliders (the keyboard's way to move it; the mouse drags it on the map): z in [-MU_MAX, MU_MAX].
MU_MAX, MU_STEP = 4.0, 0.01
PLAY_INTERVAL_MS = 150
#: Quiet time before the exact F(λ) of a moved q is computed (s).
LAM_EXACT_DELAY_S = 0.25
#: The Play widget's buttons carry only Font Awesome icons, which the offline pages do not load: words instead.
_PLAY_CSS = """<style>
.vae-q-play button { width: auto !important; padding: 0 8px; }
.vae-q-play button i { display: none; }
.vae-q-play button:nth-of-type(1)::after { content: "Play"; }
.vae-q-play button:nth-of-type(1):has(.fa-pause)::after { content: "Pause"; }
.vae-q-play button:nth-of-type(2)::after { content: "Stop"; }
</style>"""


@dataclass(frozen=True)
class HeldQTerms:
    """What the tab shows of one held q (:meth:`HoldQCompute.terms`).

    Attributes
    ----------
    bound : BoundTerms
        Every exact term of the bound for q (nats), with the cumulants κ_1..κ_order of V.
    ellipses : list of dict
        q's 1σ and 2σ ellipses (Bokeh's ellipse parameters ``x``, ``y``, ``width``, ``height``, ``angle``;
        :meth:`~explorer.vae.variational.GaussianQ.ellipse`).
    series : ndarray (order,)
        The cumulant series of q at λ, truncated after orders 1..order (nats).
    """

    bound: BoundTerms
    ellipses: list
    series: np.ndarray


@dataclass(frozen=True)
class FitReplay:
    """Both fits of q to a digit and the gaps, as the tab replays them (:meth:`HoldQCompute.fit`).

    Attributes
    ----------
    path : ndarray (n_steps, 5)
        q at each iterate as (mean z1, mean z2, σ1, σ2, ρ): the diagonal fit's iterates, then the full one's.
    path_kind : list of str
        ``"diagonal"`` or ``"full"`` per iterate.
    ellipses : list of dict
        The fitted q's 1σ and 2σ ellipses (Bokeh's ellipse parameters), diagonal first.
    ellipse_kinds : list of str
        The kind of each ellipse.
    gaps : VariationalGaps
        The exact bounds and gaps (nats).
    grad_norm, n_iter, n_starts : dict of str -> float or int
        Per kind: the gradient norm of -ELBO at the optimum, the L-BFGS iterations and the starts the optimum
        is the lowest of.
    """

    path: np.ndarray
    path_kind: list
    ellipses: list
    ellipse_kinds: list
    gaps: VariationalGaps
    grad_norm: dict
    n_iter: dict
    n_starts: dict


class HoldQCompute:
    """Numbers of the tab for the explorer's session (no widgets, no torch: :mod:`explorer.vae` computes).

    Parameters
    ----------
    session_of : callable
        ``session_of() -> VAESession`` (the explorer's current one: training may replace it).
    """

    def __init__(self, session_of):
        self._session_of = session_of
        # session -> serial; weak, so that a dropped session is forgotten (its serial never returns)
        self._serials = weakref.WeakKeyDictionary()
        self._next_serial = itertools.count()
        self._points = LRU(8)
        self._fits = LRU(16)
        self._splits = LRU(4)
        self._lams = LRU(64)
        self._posteriors = LRU(4)

    def _serial(self):
        """A number of the explorer's current session, never given to another: the caches' keys.

        Not ``id(session)``: once a trained session is dropped CPython may give its id to the
        next one, and the tab would show the dropped model's numbers.
        """
        session = self._session_of()
        serial = self._serials.get(session)
        if serial is None:
            serial = self._serials[session] = next(self._next_serial)
        return serial

    def _session(self, scale):
        return self._session_of().scaled(scale)

    def variational(self, index, scale=1.0):
        """The :class:`~explorer.vae.variational.VariationalPoint` of test digit ``index`` under decoder scale c."""
        from ...vae.variational import VariationalPoint
        session = self._session(scale)
        i = session.check_index(index)
        return self._points.get_or((self._serial(), i, scale),
                                   lambda: VariationalPoint(session.point(i)))

    @staticmethod
    def _gaussian(mu, sigma1, sigma2, rho):
        from ...vae.variational import GaussianQ
        return GaussianQ.from_sigmas(mu, sigma1, sigma2, rho)

    def posterior(self, index, scale, box):
        """p(z|x) on a fine grid over the view's ``box`` (a :class:`~explorer.vae.results.PosteriorGrid`; cached
        per digit and box)."""
        key = (self._serial(), index, scale, tuple(float(v) for v in box))
        return self._posteriors.get_or(key, lambda: self.variational(index, scale).posterior_density(box))

    def encoder(self, index, scale=1.0):
        """The encoder's q as ``(mu, sigma1, sigma2, rho = 0)``."""
        q = self.variational(index, scale).encoder_q
        return q.mu.copy(), float(q.sigma[0]), float(q.sigma[1]), 0.0

    def terms(self, index, scale, mu, sigma1, sigma2, rho, lam=1.0, order=4):
        """Every exact term for q = N(mu, [[σ1², ρσ1σ2], [ρσ1σ2, σ2²]]) (see ``VariationalPoint.terms``), with
        its cumulants κ_1..κ_order of V, its 1σ and 2σ ellipses and its series (orders 1..order at λ):
        :class:`HeldQTerms`."""
        from ...vae.free_energy import series_free_energy
        q = self._gaussian(mu, sigma1, sigma2, rho)
        bound = self.variational(index, scale).terms(q, order=order)
        return HeldQTerms(bound=bound, ellipses=[q.ellipse(1.0), q.ellipse(2.0)],
                          series=series_free_energy(bound.cumulants, [lam])[:, 0])

    def lam_exact(self, index, scale, mu, sigma1, sigma2, rho, lam):
        """Exact F(λ) = −ln E_q[w^λ] for this q (adaptive quadrature; 0.05-0.3 s; −inf past λ*)."""
        q = self._gaussian(mu, sigma1, sigma2, rho)
        key = (self._serial(), index, scale, q.mu.tobytes(), q.scale_tril.tobytes(), float(lam))
        return self._lams.get_or(key, lambda: float(self.variational(index, scale).lam_curve(q, [lam])[0]))

    def fit(self, index, scale=1.0):
        """Both fits and the gaps, as the tab replays them (:class:`FitReplay`)."""
        vp = self.variational(index, scale)

        def make():
            fits, gaps = vp.fit(), vp.gaps()
            rows, kinds = [], []
            for kind, f in fits.items():
                for mu, L in zip(f.path_mu, f.path_scale_tril):
                    cov = L @ L.T
                    s1, s2 = math.sqrt(cov[0, 0]), math.sqrt(cov[1, 1])
                    rows.append((mu[0], mu[1], s1, s2, cov[0, 1] / (s1 * s2)))
                    kinds.append(kind)
            ell, ell_kinds = [], []
            for kind, f in fits.items():
                for level in (1.0, 2.0):
                    ell.append(f.q.ellipse(level))
                    ell_kinds.append(kind)
            return FitReplay(path=np.array(rows), path_kind=kinds, ellipses=ell, ellipse_kinds=ell_kinds, gaps=gaps,
                             grad_norm={k: f.grad_norm for k, f in fits.items()},
                             n_iter={k: f.n_iter for k, f in fits.items()},
                             n_starts={k: f.n_starts for k, f in fits.items()})
        return self._fits.get_or((self._serial(), vp.analysis.x_np.tobytes(), scale), make)

    def has_fit(self, index, scale=1.0):
        vp = self.variational(index, scale)
        return (self._serial(), vp.analysis.x_np.tobytes(), scale) in self._fits

    def cached_split(self, scale=1.0):
        """The split's gaps when already computed (memory or disk), else None."""
        from ...vae.variational import load_split_gaps
        session = self._session(scale)
        key = (self._serial(), scale)
        if key in self._splits:
            return self._splits[key]
        hit = load_split_gaps(session)
        if hit is not None:
            self._splits[key] = hit
        return hit

    def split(self, scale=1.0, progress=None):
        """Both gaps for every test digit (``explorer.vae.variational.split_gaps``, cached on disk)."""
        from ...vae.variational import split_gaps
        session = self._session(scale)
        out = split_gaps(session, progress=progress or (lambda done, total: None))
        self._splits[(self._serial(), scale)] = out
        return out


class HoldQ(LazyWidgets):
    """The "Hold q" tab of a :class:`~explorer.app.vae.explorer.VAEExplorer` (:meth:`panel`)."""

    LAZY = ("box",)

    def __init__(self, explorer):
        self.explorer = explorer
        self.compute = HoldQCompute(lambda: explorer.session)
        self.view = None
        self.state = None            # the explorer's state last rendered here
        self.held = None             # (mu (2,), sigma1, sigma2, rho)
        self.terms = None
        self.shown = None            # the held q that terms (and the readout) belong to
        self.fit_result = None       # HoldQCompute.fit of the shown digit, once fitted
        self._syncing = False
        self._echoes = SliderEchoes()   # the sliders send back the values set here, snapped to their steps
        self._fitting = BackgroundJob("vae-hold-q-fit")
        self._splitting = BackgroundJob("vae-hold-q-split")
        self.lam_exact = None        # exact F(λ) of the held q at the explorer's λ (None: not yet)
        self._lam_handle = None
        # a drag sends many positions: one update per event-loop turn, with the latest one
        self._coalescer = Coalescer(self._show_held)
        # the widgets are built when the tab is first opened (LazyWidgets)

    # ------------------------------------------------------------------ widgets
    def _build_widgets(self):
        style = {"description_width": "70px"}

        def sigma_slider(name):
            return W.FloatLogSlider(value=0.3, base=10, min=SIGMA_EXP_MIN, max=SIGMA_EXP_MAX, step=SIGMA_EXP_STEP,
                                    description=name, readout_format=".3f", style=style,
                                    layout=W.Layout(width="280px"))
        self.w_sigma1, self.w_sigma2 = sigma_slider("σ₁ of q"), sigma_slider("σ₂ of q")
        self.w_rho = W.FloatSlider(value=0.0, min=-RHO_MAX, max=RHO_MAX, step=0.01, description="ρ of q",
                                   readout_format=".2f", style=style, layout=W.Layout(width="280px"))

        def mean_slider(name):
            return W.FloatSlider(value=0.0, min=-MU_MAX, max=MU_MAX, step=MU_STEP, description=name,
                                 readout_format=".2f", style=style, layout=W.Layout(width="280px"))
        self.w_mu1, self.w_mu2 = mean_slider("mean z₁"), mean_slider("mean z₂")
        self.w_encoder = W.Button(description="Start from the encoder's q", layout=W.Layout(width="210px"))
        self.w_fit = W.Button(description="Fit q to this digit", button_style="primary",
                              layout=W.Layout(width="170px"))
        self.w_play = play_control("Play the fit", 0, PLAY_INTERVAL_MS, "130px")
        self.w_step = W.IntSlider(value=0, min=0, max=0, description="fit step", style=style,
                                  layout=W.Layout(width="280px"))
        # the Play drives the step slider in the browser: the animation needs no kernel thread
        W.jslink((self.w_play, "value"), (self.w_step, "value"))
        self.w_readout = W.HTML(layout=W.Layout(width="100%", min_height="80px", margin="0"))
        self.w_split = W.Button(description="Compute the gaps over the test split", layout=W.Layout(width="290px"))
        self.w_split_progress = W.IntProgress(value=0, min=0, max=1, layout=W.Layout(width="260px"))
        self.w_split_status = W.HTML(layout=W.Layout(width="270px"))
        for w, cls in ((self.w_mu1, "vae-q-mu1"), (self.w_mu2, "vae-q-mu2"),
                       (self.w_sigma1, "vae-q-sigma1"), (self.w_sigma2, "vae-q-sigma2"), (self.w_rho, "vae-q-rho"),
                       (self.w_encoder, "vae-q-encoder"), (self.w_fit, "vae-q-fit"), (self.w_play, "vae-q-play"),
                       (self.w_step, "vae-q-step"), (self.w_split, "vae-q-split"),
                       (self.w_split_progress, "vae-q-split-progress")):
            w.add_class(cls)
        self.w_sigma1.observe(lambda c: self._on_shape(sigma1=c["new"]), "value")
        self.w_sigma2.observe(lambda c: self._on_shape(sigma2=c["new"]), "value")
        self.w_rho.observe(lambda c: self._on_shape(rho=c["new"]), "value")
        self.w_mu1.observe(lambda c: self._on_mean(0, c["new"]), "value")
        self.w_mu2.observe(lambda c: self._on_mean(1, c["new"]), "value")
        self.w_step.observe(lambda c: self.show_step(c["new"]), "value")
        self.w_encoder.on_click(lambda _b: self.start_from_encoder())
        self.w_fit.on_click(lambda _b: self.fit())
        self.w_split.on_click(lambda _b: self.compute_split())
        self.box = W.VBox([
            W.HBox([W.VBox([self.w_mu1, self.w_mu2, self.w_sigma1, self.w_sigma2, self.w_rho]),
                    W.VBox([W.HBox([self.w_encoder, self.w_fit]), W.HBox([self.w_play, self.w_step])])]),
            self.w_readout,
            W.HBox([self.w_split, self.w_split_progress, self.w_split_status]),
            W.HTML(_PLAY_CSS, layout=W.Layout(display="none")),
        ], layout=W.Layout(width="100%", margin="0"))
        self.box.add_class("vae-hold-q")

    def panel(self):
        return Panel("hold_q", "Hold q", self._build_view, self.render, widgets=lambda: [self.box],
                     reads=POINT_FIELDS | {"T", "lam", "order"})

    def _build_view(self):
        view = HoldQView()
        view.mean_source.on_change("data", self._on_drag)
        self.view = view
        return view

    # ------------------------------------------------------------------ render (the explorer's update)
    def render(self, view, state, changed):
        self.view = view
        new_point = bool(changed & POINT_FIELDS) or self.state is None
        self.state = state
        if new_point:
            b = self.explorer.compute.point(state.index, state.scale)
            g = b.posterior
            # the quadrature's grid finds where the mass is; a finer picture of just that box is drawn
            box = view.show_posterior(g.z1, g.z2, g.density, b.q.mu, b.q.sigma)
            fine = self.compute.posterior(state.index, state.scale, box)
            view.show_posterior(fine.z1, fine.z2, fine.density, b.q.mu, b.q.sigma)
            mu, s1, s2, rho = self.compute.encoder(state.index, state.scale)
            enc = self.compute.terms(state.index, state.scale, mu, s1, s2, rho)
            view.show_encoder(enc.ellipses)
            self.fit_result = self.compute.fit(state.index, state.scale) \
                if self.compute.has_fit(state.index, state.scale) else None
            self._show_fit()
            self._set_play(0)
            self.set_q(mu, s1, s2, rho, render=False)
            self._show_split()
        self._show_held()

    # ------------------------------------------------------------------ the held q
    def set_q(self, mu, sigma1, sigma2, rho, render=True):
        """Hold q = N(mu, Σ(σ1, σ2, ρ)) (what dragging, the sliders and the fit's steps do)."""
        rho = float(min(max(rho, -RHO_MAX), RHO_MAX))
        self.held = (np.asarray(mu, dtype=np.float64).copy(), float(sigma1), float(sigma2), rho)
        self._syncing = True
        try:   # the sliders show the held q (their range clips what they cannot show)
            for w, v in ((self.w_sigma1, float(sigma1)), (self.w_sigma2, float(sigma2)), (self.w_rho, rho),
                         *((w, float(min(max(m, -MU_MAX), MU_MAX))) for w, m in zip((self.w_mu1, self.w_mu2),
                                                                                     self.held[0]))):
                self._echoes.put(w, v)
        finally:
            self._syncing = False
        if render:
            self._coalescer.request()

    def move_mean(self, z1, z2):
        """Move q's mean to (z1, z2), keeping its shape (a drag, or a tap on the map: the view's draw tool
        keeps one point, so a tap replaces the mean)."""
        _, s1, s2, rho = self.held
        self.set_q([float(z1), float(z2)], s1, s2, rho)

    def start_from_encoder(self):
        st = self.state
        self.set_q(*self.compute.encoder(st.index, st.scale))

    def _on_shape(self, sigma1=None, sigma2=None, rho=None):
        if self._syncing or self.held is None:
            return
        widget, value = next((w, v) for w, v in ((self.w_sigma1, sigma1), (self.w_sigma2, sigma2), (self.w_rho, rho))
                             if v is not None)
        if self._echoes.is_echo(widget, value):
            return                   # the slider showing (snapped) a value set here, not a move
        mu, s1, s2, r = self.held
        self.set_q(mu, s1 if sigma1 is None else sigma1, s2 if sigma2 is None else sigma2, r if rho is None else rho)

    def _on_mean(self, axis, value):
        """A mean slider moved (the keyboard's way to move q's mean): the other coordinate and the shape stay."""
        if self._syncing or self.held is None:
            return
        if self._echoes.is_echo((self.w_mu1, self.w_mu2)[axis], value):
            return                   # the slider showing (snapped) a value set here, not a move
        mu = self.held[0].copy()
        mu[axis] = float(value)
        self.move_mean(mu[0], mu[1])

    def _on_drag(self, attr, old, new):
        if self._syncing or self.held is None:
            return
        # the mean's source after a drag or a tap (the draw tool keeps one point: the last one is the new mean)
        z1, z2 = list(new.get("z1", []))[-1:], list(new.get("z2", []))[-1:]
        if not (len(z1) and len(z2) and np.isfinite(z1[0]) and np.isfinite(z2[0])):
            return
        if float(z1[0]) == self.held[0][0] and float(z2[0]) == self.held[0][1]:
            return                   # our own update coming back (a held document fires its callbacks late)
        self.move_mean(z1[0], z2[0])

    def _show_held(self):
        if self.view is None or self.held is None or self.state is None:
            return
        st = self.state
        mu, s1, s2, rho = self.held
        self.terms = self.compute.terms(st.index, st.scale, mu, s1, s2, rho, st.lam, st.order)
        self.shown = self.held
        self.lam_exact = self.terms.bound.free_energy if st.lam == 1.0 else (0.0 if st.lam == 0.0 else None)
        self._syncing = True            # the mean's source is set here: not a drag
        try:
            with held(self.view):       # held callbacks fire when it ends: still syncing
                self.view.show_held(mu, self.terms.ellipses)
                t = self.terms.bound
                self.view.show_terms({"expected_energy": t.expected_energy, "minus_entropy": -t.entropy,
                                      "neg_elbo": t.neg_elbo, "free_energy": t.free_energy,
                                      "kl_posterior": t.kl_posterior})
        finally:
            self._syncing = False
        self.w_readout.value = self.readout()
        if self.lam_exact is None:
            self._request_lam_exact()

    def _request_lam_exact(self):
        """Exact F(λ) for the held q, once q has rested for a moment (an adaptive quadrature: too slow for
        every step of a drag); at once without an event loop."""
        loop = running_loop()
        if self._lam_handle is not None:
            self._lam_handle.cancel()
            self._lam_handle = None
        if loop is None:
            self._show_lam_exact()
        else:
            self._lam_handle = loop.call_later(LAM_EXACT_DELAY_S, self._show_lam_exact)

    def _show_lam_exact(self):
        self._lam_handle = None
        if self.shown is None or self.state is None or self.shown is not self.held:
            return                   # q moved since: its own update asks again
        st = self.state
        mu, s1, s2, rho = self.shown
        self.lam_exact = self.compute.lam_exact(st.index, st.scale, mu, s1, s2, rho, st.lam)
        self.w_readout.value = self.readout()

    # ------------------------------------------------------------------ fit
    def fit(self, background=True):
        """Fit q to the digit (diagonal, then full covariance), then play the iterates on the map.

        The fit runs in a thread in the app (a few seconds), so that the page keeps answering.
        """
        if self._fitting.running:
            return None
        st = self.state
        self.w_fit.disabled = True
        self.w_fit.description = "Fitting…"
        return self._fitting.start(lambda _post: self.compute.fit(st.index, st.scale),
                                   lambda res: self._fit_done(res, st),
                                   lambda exc: self._fit_done(None, st, f"The fit failed: {exc}"), background)

    def _fit_done(self, res, st, error=None):
        self.w_fit.disabled = False
        self.w_fit.description = "Fit q to this digit"
        if error is not None:
            self.w_split_status.value = status_html("vae-split-status", error, error=True)
            return
        if self.state is None or (st.index, st.scale) != (self.state.index, self.state.scale):
            return                       # another digit was chosen meanwhile
        self.fit_result = res
        self._show_fit()
        last = len(res.path) - 1
        self._set_play(last)
        self.show_step(0)
        self.w_play.playing = True        # the browser steps through the iterates

    def _set_play(self, last):
        self._syncing = True
        try:
            self.w_play.playing = False
            self.w_play.value = self.w_step.value = 0
            self.w_play.max = self.w_step.max = int(last)
        finally:
            self._syncing = False

    def show_step(self, k):
        """Hold the fit's iterate ``k`` (the diagonal fit's, then the full one's)."""
        if self._syncing or self.fit_result is None:
            return
        path = self.fit_result.path
        k = int(min(max(k, 0), len(path) - 1))
        z1, z2, s1, s2, rho = path[k]
        self.set_q([z1, z2], s1, s2, rho)

    def _show_fit(self):
        if self.view is None:
            return
        r = self.fit_result
        if r is None:
            self.view.show_fit([], [], np.zeros((0, 2)))
        else:
            self.view.show_fit(r.ellipses, r.ellipse_kinds, r.path[:, :2])
        self._show_marks()

    # ------------------------------------------------------------------ the split
    def compute_split(self, background=True):
        """Both gaps for every test digit, in a thread with a progress bar (cached on disk)."""
        if self._splitting.running:
            return None
        scale = self.state.scale if self.state is not None else 1.0
        self.w_split.disabled = True
        n = self.explorer.session.n_test
        self.w_split_progress.max, self.w_split_progress.value = n, 0
        self.w_split_status.value = f"0 of {n} digits…"

        def work(post):
            return self.compute.split(scale, lambda done, total: post(lambda: self._split_progress(done, total)))

        return self._splitting.start(work, self._split_done, lambda exc: self._split_done(None, f"Failed: {exc}"),
                                     background)

    def _split_progress(self, done, total):
        self.w_split_progress.max, self.w_split_progress.value = total, done
        self.w_split_status.value = f"{done} of {total} digits…"

    def _split_done(self, out, error=None):
        self.w_split.disabled = False
        if error is not None:
            self.w_split_status.value = status_html("vae-split-status", error, error=True)
            return
        self.w_split_status.value = (f"{out.index.size} digits: median amortisation gap "
                                     f"{np.median(out.amortisation):.3f}, approximation gap "
                                     f"{np.median(out.approximation):.3f} nats")
        self._show_split()

    def _show_split(self):
        if self.view is None or self.state is None:
            return
        split = self.compute.cached_split(self.state.scale)
        if split is None:
            self.view.show_histograms([], [])
        else:
            self.view.show_histograms(split.amortisation, split.approximation)
            n = split.index.size
            self.w_split_progress.max, self.w_split_progress.value = n, n
        self._show_marks()

    def _show_marks(self):
        if self.view is None or self.state is None:
            return
        marks = (None, None)        # this digit's (amortisation, approximation) gaps, where known
        if self.fit_result is not None:
            g = self.fit_result.gaps
            marks = (g.amortisation, g.approximation)
        else:
            split = self.compute.cached_split(self.state.scale)
            if split is not None:
                hit = np.nonzero(split.index == self.state.index)[0]
                if hit.size:
                    marks = (float(split.amortisation[hit[0]]), float(split.approximation[hit[0]]))
        self.view.show_marks(*marks)

    # ------------------------------------------------------------------ readout
    def readout(self):
        """The readout of the q the terms were computed for (never a moved q's heading over older numbers)."""
        st, t = self.state, self.terms.bound
        mu, s1, s2, rho = self.shown
        err = max(t.quadrature_error, 1e-12)
        heading = (f"Your q for digit <b>#{st.index}</b>: mean ({mu[0]:.3f}, {mu[1]:.3f}), σ = ({s1:.3f}, {s2:.3f}), "
                   f"ρ = {rho:.2f}. Exact (quadrature), in nats:")
        cells = [
            ("−ELBO(q) (bound)", fmt(t.neg_elbo, 4), None),
            (Html("E<sub>q</sub>[H]"), fmt(t.expected_energy, 4), None),
            ("S[q]", fmt(t.entropy, 4), None),
            ("KL(q‖p(z|x))", fmt(t.kl_posterior, 4), None),
            ("−ln p(x)", fmt(t.free_energy, 4), None),
        ]
        lam_text = "…" if self.lam_exact is None else fmt(self.lam_exact, 4)
        cells.append((f"exact F(λ = {st.lam:.3f}) for this q", lam_text, None))
        cells.append((f"series, order {st.order}", fmt(self.terms.series[st.order - 1], 4), None))
        if st.T != 1.0:
            b = self.explorer.compute.point(st.index, st.scale).temperature
            k = T_GRID.index(st.T)
            cells.append((Html(f"E<sub>q</sub>[H] − T·S[q], T = {st.T:.3g}"),
                          fmt(t.expected_energy - st.T * t.entropy, 4), None))
            cells.append((Html(f"exact F<sub>T</sub>, T = {st.T:.3g}"),
                          fmt(None if b.exact is None else b.exact[k], 4), None))
        note = Html(f"Estimated quadrature errors: {err:.1e} nats (E<sub>q</sub>[H], Gauss–Hermite), "
                    f"{t.free_energy_error:.1e} (−ln p(x), adaptive grid).")
        if t.entropy < 0:
            note = Html(note + " S[q] &lt; 0 is no error: q is a density over a continuous z, whose (differential) "
                        "entropy is negative when q is narrow, unlike the RBM's S ≥ 0 over discrete states.")
        html = readout_html("vae-q", heading, cells, note=note)
        r = self.fit_result
        if r is not None:
            g = r.gaps
            html += ("<div class='vae-q-chain' style='font-size:13px;line-height:1.5'>"
                     f"−ln p(x) = {fmt(g.free_energy, 4)} ≤ −ELBO(q*<sub>full</sub>) = {fmt(g.neg_elbo_full, 4)}"
                     f" ≤ −ELBO(q*<sub>diag</sub>) = {fmt(g.neg_elbo_diagonal, 4)} ≤ −ELBO(q<sub>encoder</sub>) = "
                     f"{fmt(g.neg_elbo_encoder, 4)}<br>"
                     f"<span class='vae-q-gaps'>amortisation gap {fmt(g.amortisation, 4)}, approximation gap "
                     f"{fmt(g.approximation, 4)}, full covariance gains {fmt(g.full_covariance, 4)} nats"
                     "</span><br><span class='vae-q-starts'>"
                     f"q*<sub>diag</sub> is the lowest of {r.n_starts['diagonal']} fits and q*<sub>full</sub> of "
                     f"{r.n_starts['full']} (started from the encoder's q, each mode of the exact posterior and "
                     "its moments): the lowest found, not proven lowest.</span></div>")
        return html
