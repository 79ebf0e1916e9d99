"""The VAE explorer: controls -> :class:`VAEState` -> :class:`VAECompute` -> the panel views.

Built on :class:`explorer.app.core.ExplorerShell` (scheduling, presets, URL state, teacher
mode, theme, link, CSV, lazy tabs). What is here: the VAE's controls, the training tab, and
one small render function per panel.

Stale kinds: ``point`` (another digit: everything), ``mc`` (the Monte Carlo sample count),
``T``, ``lam``, ``K`` (cursors on cached curves) and ``order`` (the series lines).

The shipped model's session (torch, the checkpoint: ~3 s) loads only when something needs it:
the default digit's numbers ship in ``explorer/data/default_view_vae.npz`` (see
:mod:`explorer.app.vae.compute`), so the default page, and a URL that only moves cursors on its
curves (``T``, ``lam``, ``order``, ``K``), is built and shown without torch. :meth:`VAEExplorer.show`
then starts loading the session in a low-priority thread once the page has drawn its plots
(:meth:`~explorer.app.core.ExplorerShell.after_page_ready`: the browser first fetches every widget's
state from this kernel, which a torch import would slow); another digit, decoder scale or sample count, the Latent
space, Weight scale, Training and Hold q tabs wait for that load if it has not finished. torch is
imported only by :mod:`explorer.vae`.
"""

from __future__ import annotations

import csv
import io

import ipywidgets as W
import numpy as np

from ...views.glossary import guide_html
from ...views.html import Html, escape, fmt, muted_html, readout_html
from ...views.vae.explorer import EXPLANATIONS as VAE_CAPTIONS
from ...views.vae.explorer import (
    ElboView,
    ImportanceWeightView,
    IwaeView,
    LatentView,
    PosteriorLambdaView,
    TemperatureView,
    WeightScaleView,
)
from ...views.vae.hold_q import EXPLANATIONS as HOLD_Q_CAPTIONS
from ..core import ExplorerShell, Panel
from ..core.request import show_when_requested
from ..core.scheduling import running_loop
from .compute import SESSION_SEED, VAECompute
from .hold_q import HoldQ
from .state import (
    CONTROL_NAMES,
    DEFAULT,
    K_GRID,
    LAM_GRID,
    MAX_ORDER,
    POINT_FIELDS,
    SCALE_GRID,
    SCHEMA,
    T_GRID,
    VAEState,
    state_from_query,
)
from .training import TrainingTab

NOTEBOOK_PATH = "voila/render/vae_explorer.ipynb"
#: The fields of the digit's Monte Carlo estimates.
MC_FIELDS = POINT_FIELDS | {"samples"}

GUIDE = """<div class='vae-guide-text' style='font-size:13px;line-height:1.5;max-width:860px'>
<p><b>The same story as the RBM, for a VAE.</b> The energy is H(z) = −ln p(x, z) and the reference is the
encoder's Gaussian q(z|x). Left: the true posterior p(z|x), integrated exactly on a grid (heat map), and q
(ellipses). Right: F(λ) = −ln E<sub>q</sub>[w<sup>λ</sup>]; at λ = 1 it is the exact −ln p(x). Order 1 of the
cumulant series is −ELBO, the variational bound; the gap to the exact value is KL(q‖p(z|x)) — the mismatch
between the heat map and the ellipses.</p>
<p><b>Try:</b> pick another digit (the index box, or click a dot in the Latent space tab), raise the order,
move λ past λ* (dotted: there E<sub>q</sub>[w<sup>λ</sup>] is infinite). The other tabs show the ELBO as expected
energy minus entropy, the free energy at other temperatures, IWAE bounds, and training a new model —
each is computed when you first open it.</p></div>"""
#: The Guide, with a glossary of every word the VAE explorer's captions, readouts and tabs use.
GUIDE = guide_html(GUIDE, *VAE_CAPTIONS.values(), *HOLD_Q_CAPTIONS.values(),
                   "exact −ln p(x), −ELBO (bound), gap KL(q‖p(z|x)), exact F(λ), series, order K, Monte Carlo, "
                   "bound E_q[H] − T·S[q], IWAE, λ*, standard errors, exact k, PSIS k̂, effective sample size, "
                   "amortisation gap, approximation gap, full covariance, quadrature, decoder, encoder")


class VAEExplorer(ExplorerShell):
    """The VAE explorer; display :attr:`widget` (or call :meth:`show`).

    Parameters
    ----------
    query, page_url, prefetch
        See :class:`explorer.app.core.ExplorerShell`.
    checkpoint : str, optional
        A VAE checkpoint (default: the shipped 2-D digits model). Loaded when first needed; the
        shipped default view is used when the file is the shipped one (same bytes).
    session : VAESession, optional
        Reuse an existing, loaded session (tests); its numbers are all computed.
    """

    PREFIX = "vae"
    CLASS_CHANNEL = "explorer:vae"
    ROOT_CLASS = "vae-explorer"
    CONTROL_NAMES = CONTROL_NAMES
    SCHEMA = SCHEMA
    CSV_READS = MC_FIELDS
    GUIDE = GUIDE

    def __init__(self, query=None, page_url=None, checkpoint=None, session=None, prefetch=True):
        if session is None:
            compute = VAECompute.load_lazily(checkpoint)
            compute.seed_default_view(DEFAULT.index, DEFAULT.samples)
        else:
            compute = VAECompute(session)
        self.training = TrainingTab(self)
        self._use_compute(compute, "shipped checkpoint" if checkpoint is None else str(checkpoint), mark=False)
        super().__init__(query=query, page_url=page_url, prefetch=prefetch)
        self._show_model_name()

    @property
    def session(self):
        """The explorer's :class:`~explorer.vae.VAESession` (loaded now if it is not yet)."""
        return self.compute.session

    def show(self):
        """Display the explorer, then load the session in the background once the page has drawn
        its plots (see the module docstring)."""
        super().show()
        if running_loop() is not None:     # plain Python: the session loads when first needed
            self.after_page_ready(self.compute.loader.start_background)
        return self

    def warm_up(self):
        """A kernel of Voila's preheated pool loads the session (torch, the checkpoint) before its
        page is requested, at low priority: the student then never waits for it."""
        super().warm_up()
        self.compute.loader.get()

    # ------------------------------------------------------------------ codec
    def state_from_query(self, query):
        return state_from_query(query, self.compute.n_test)

    # ------------------------------------------------------------------ controls
    def build_controls(self):
        # built from the State fields' declarations (app/vae/state.py: FIELDS) and bound to them
        self.w_index = self.control("index")
        self.w_index.max = self.compute.n_test - 1
        self.w_temperature = self.control("T")
        self.w_lam = self.control("lam")
        self.w_order = self.control("order")
        self.w_k = self.control("K")
        self.w_samples = self.control("samples")
        self.w_scale = self.control("scale")
        self.w_model_name = W.HTML(layout=W.Layout(width="310px"))
        return [self.w_model_name, W.HBox([self.w_index, self.w_reset]), self.w_scale, self.w_temperature,
                self.w_lam, self.w_order, self.w_k, self.w_samples]

    def hideable(self):
        return {"index": self.w_index, "scale": self.w_scale, "temperature": self.w_temperature, "lam": self.w_lam,
                "order": self.w_order, "K": self.w_k, "samples": self.w_samples,
                "training": self.training.box}

    def show_state(self, state):
        self.show_fields(state)

    def select(self, index):
        """Select test digit ``index`` (what a tap in the scatter does)."""
        self.w_index.value = int(index)

    # ------------------------------------------------------------------ panels
    def build_panels(self):
        self.hold_q = HoldQ(self)          # the Hold q tab's controller
        return [
            # the readout under the first plots names every setting: it reads all fields
            Panel("posterior_lambda", "Posterior and F(λ)", lambda: PosteriorLambdaView(
                lam_range=(LAM_GRID[0], LAM_GRID[-1])), self._render_core, core=True),
            Panel("latent", "Latent space", LatentView, self._render_latent, reads=POINT_FIELDS),
            Panel("elbo", "ELBO parts", ElboView, self._render_elbo, reads=MC_FIELDS),
            Panel("weights", "Weights' tail", ImportanceWeightView, self._render_weights, reads=MC_FIELDS),
            Panel("scale", "Weight scale", lambda: WeightScaleView(c_range=(SCALE_GRID[0], SCALE_GRID[-1])),
                  self._render_scale, reads=POINT_FIELDS),
            Panel("temperature", "Temperature", lambda: TemperatureView(t_range=(T_GRID[0], T_GRID[-1])),
                  self._render_temperature, reads=POINT_FIELDS | {"T"}),
            Panel("iwae", "IWAE", lambda: IwaeView(k_range=(K_GRID[0], K_GRID[-1])), self._render_iwae,
                  reads=POINT_FIELDS | {"K"}),
            self.training.panel(),
            self.hold_q.panel(),
        ]

    def before_render(self, state, changed):
        self.compute.check_index(state.index)          # InputError: refused, the plots stay
        if changed & POINT_FIELDS and self.showing_error:
            self._message("")
        return state

    def refused_message(self, exc, state):
        return f"{exc}. The plots still show the previous digit."

    def _render_core(self, v, state, changed):
        b = self.compute.point(state.index, state.scale)
        mc = self.compute.monte_carlo(state.index, state.samples, state.scale)
        lc, kappa = b.lam_curve, self.compute.series_rows(b)
        if changed & POINT_FIELDS and b.posterior is not None:
            g = b.posterior
            v.show_posterior(g.z1, g.z2, g.density, b.q.mu, b.q.sigma, b.q.draws)
        exact = lc.exact if lc.exact is not None else np.full(LAM_GRID.size, np.nan)
        if changed & MC_FIELDS:
            vr = b.renyi if b.renyi is not None else exact * np.nan
            v.show_lambda_curves(LAM_GRID.values, exact, vr, mc.lam, mc.stderr, kappa, state.order, lc.lam_critical)
        elif "order" in changed:   # only the series lines change with the order
            v.show_series(LAM_GRID.values, kappa, state.order)
        j = LAM_GRID.index(state.lam)
        v.show_lambda_cursor(state.lam, exact[j] if np.isfinite(exact[j]) else mc.lam[j])
        self.w_readout.value = self._readout(state, b, mc)

    def tap_actions(self):
        return {"digit": lambda i: self.select(int(i))}

    def _render_latent(self, v, state, changed):
        if "model_id" in changed:
            lat = self.compute.latents()
            v.show_latents(lat.mu, lat.labels, np.arange(self.compute.n_test))
        if changed & POINT_FIELDS:
            b = self.compute.point(state.index, state.scale)
            lab = "" if b.label is None else f" (a {b.label})"
            v.show_selected(b.q.mu, f"<b>Test digit #{b.index}{lab}</b>", b.image, b.reconstruction)

    def _render_elbo(self, v, state, changed):
        if changed & MC_FIELDS:
            b = self.compute.point(state.index, state.scale)
            p, m = b.elbo_parts, self.compute.monte_carlo(state.index, state.samples, state.scale).elbo_parts
            v.show({"expected_energy": p.expected_energy, "minus_entropy": -p.entropy,
                    "neg_elbo": p.neg_elbo, "free_energy": b.reference[0], "kl_posterior": p.kl_posterior},
                   {"expected_energy": (m.expected_energy, m.expected_energy_stderr),
                    "minus_entropy": (-m.entropy, m.entropy_stderr),
                    "neg_elbo": (m.neg_elbo, m.neg_elbo_stderr),
                    "kl_posterior": (m.kl_posterior, m.kl_posterior_stderr)})

    def _render_weights(self, v, state, changed):
        if changed & MC_FIELDS:
            w = self.compute.monte_carlo(state.index, state.samples, state.scale).weights
            f_exact = self.compute.point(state.index, state.scale).reference[0]
            v.show(w.log_w, w.lam_critical, w.pareto_k_exact, w.pareto_k_hat, w.ess, w.raw_free_energy,
                   w.psis_free_energy, f_exact, reliable=w.reliable, k_threshold=w.k_threshold)

    def _render_scale(self, v, state, changed):
        if changed & POINT_FIELDS:
            c = self.compute.weight_scale_curve(state.index)
            v.show(c.scale, c.exact, c.neg_elbo)
        v.show_cursor(state.scale)

    def _render_temperature(self, v, state, changed):
        t = self.compute.point(state.index, state.scale).temperature
        if changed & POINT_FIELDS:
            v.show_curves(t.T, t.exact if t.exact is not None else np.full(t.T.size, np.nan), t.bound)
        k = T_GRID.index(state.T)
        v.show_cursor(state.T, t.exact[k] if t.exact is not None else t.bound[k])

    def _render_iwae(self, v, state, changed):
        b = self.compute.point(state.index, state.scale)
        iw = b.iwae
        if changed & POINT_FIELDS:
            v.show(iw.k, iw.bound, iw.stderr, b.reference[0],
                   note=_iwae_note(iw.k, iw.groups, b.report["iwae"]["pool"], self._pool_seed()))
        kk = K_GRID.index(state.K)
        v.show_cursor(state.K, iw.bound[kk])

    def _pool_seed(self):
        """The seed of the Monte Carlo pool the numbers come from (the app's sessions use SESSION_SEED;
        read from the session only once it is loaded: the first screen imports no torch)."""
        return self.compute.session.seed if self.compute.loader.loaded else SESSION_SEED

    def _readout(self, state, b, mc):
        j, k, kk = LAM_GRID.index(state.lam), T_GRID.index(state.T), K_GRID.index(state.K)
        seed = self._pool_seed()
        kappa = self.compute.series_rows(b)
        ex = b.lam_curve.exact
        temp, p, iw = b.temperature, b.elbo_parts, b.iwae
        lab = "" if b.label is None else f" (a {b.label})"
        scaled = "" if state.scale == 1.0 else f", decoder weights × {state.scale:#.3g}"
        heading = f"Test digit <b>#{b.index}</b>{lab}{scaled}, in nats:"
        cells = [
            ("exact −ln p(x)", fmt(b.reference[0], 4), None),
            ("−ELBO (bound)", fmt(p.neg_elbo, 4), None),
            ("gap KL(q‖p(z|x))", fmt(p.kl_posterior, 4), None),
            (f"exact F(λ = {state.lam:.3f})", fmt(None if ex is None else ex[j], 4), None),
            (f"series, order {state.order}", fmt(kappa[state.order - 1, j], 4), None),
            (f"Monte Carlo ({mc.n} samples, seed {seed})", _with_error(mc.lam[j], mc.stderr[j]), None),
            (Html(f"exact F<sub>T</sub> at T = {state.T:#.3g}"),
             fmt(None if temp.exact is None else temp.exact[k], 4), None),
            (Html("bound E<sub>q</sub>[H] − T·S[q]"), fmt(temp.bound[k], 4), None),
            (f"IWAE, K = {int(K_GRID[kk])} (one pool, seed {seed})",
             _with_error(iw.bound[kk], iw.stderr[kk], "one group of K in the pool: no error bar"), None),
        ]
        note = Html(f"λ* = {b.lam_curve.lam_critical:.4f}: above it E<sub>q</sub>[w<sup>λ</sup>] is infinite. "
                    f"± = 2 standard errors: how far another seed's draws could move an estimate, not how far it "
                    f"is from the exact value.")
        return readout_html("vae", heading, cells, note=note)

    # ------------------------------------------------------------------ CSV
    def csv_filename(self):
        return f"vae_explorer_digit_{int((self.shown or self.state).index)}.csv"

    def csv(self):
        """The curves of the selected digit as CSV (long format: curve, x, value, stderr)."""
        st = self.shown or self.state
        b = self.compute.point(st.index, st.scale)
        mc = self.compute.monte_carlo(st.index, st.samples, st.scale)
        rows = []
        ex = b.lam_curve.exact
        kappa = self.compute.series_rows(b)
        for j, lam in enumerate(LAM_GRID.values):
            if ex is not None:
                rows.append(("F_lambda_exact", lam, ex[j], ""))
                if lam > 0:
                    rows.append(("renyi_vr_bound", lam, b.renyi[j], ""))
            rows.append(("F_lambda_monte_carlo", lam, mc.lam[j], mc.stderr[j]))
            for n in range(MAX_ORDER):
                rows.append((f"series_order_{n + 1}", lam, kappa[n, j], ""))
        t = b.temperature
        for k, tv in enumerate(t.T):
            if t.exact is not None:
                rows.append(("F_T_exact", tv, t.exact[k], ""))
            rows.append(("F_T_bound", tv, t.bound[k], ""))
        for kk, kv in enumerate(b.iwae.k):
            rows.append(("iwae_bound", kv, b.iwae.bound[kk], b.iwae.stderr[kk]))
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["curve", "x", "value", "stderr"])
        for name, x, y, se in rows:
            yv = "-inf" if y == -np.inf else f"{y:.12g}"
            # no standard error where the variance is infinite (NaN): an empty cell, never "nan"
            w.writerow([name, f"{x:.12g}", yv, "" if se == "" or not np.isfinite(se) else f"{se:.12g}"])
        return buf.getvalue()

    # ------------------------------------------------------------------ model / session
    def _use_compute(self, compute, name, mark=True):
        """Explore the model of ``compute`` (called ``name`` on the page); ``mark``: redraw everything."""
        self.compute = compute
        self._model_name = name
        if mark:
            self.w_index.max = compute.n_test - 1
            self._show_model_name()
            self.update_state(model_id=self.state.model_id + 1)
            self.flush()

    def use_compute(self, compute, name):
        """Explore the model of ``compute`` (called ``name`` on the page): a new ``model_id``, every plot
        redrawn (what the Training tab does with a model it trained, or going back)."""
        self._use_compute(compute, name)

    @property
    def model_name(self):
        return self._model_name

    def train(self, epochs=None, background=True, **kwargs):
        """Train a new VAE, then explore it (:meth:`explorer.app.vae.training.TrainingTab.train`)."""
        return self.training.train(epochs, background, **kwargs)

    def _show_model_name(self):
        self.w_model_name.value = (f"<div class='vae-model'>Model: <b>{escape(self._model_name)}</b>, "
                                   f"{self.compute.n_test} test digits</div>")


def _with_error(value, stderr, reason="variance infinite: no error bar"):
    """A sampling estimate with ±2 standard errors, or the ``reason`` there is no error bar."""
    if np.isfinite(stderr):
        return fmt(value, 4, stderr)
    return fmt(value, 4) + " " + muted_html(f"({reason})")


def _iwae_note(ks, groups, pool, seed):
    """What the IWAE bars are, and why a K has none (only one group of K fits in the pool)."""
    draws = f"{int(pool):,}".replace(",", " ")
    note = (f"Bars: ±2 standard errors from the spread of the independent groups of K in one pool of {draws} "
            f"draws (seed {seed}): the noise of the estimate, not its bias (the bound −L<sub>K</sub>, the "
            f"estimate's expectation, stays above −ln p(x)). The groups' values have a finite variance for every "
            f"λ*, so the bars hold even where the weights' variance is infinite.")
    single = [int(k) for k, g in zip(ks, groups) if int(g) < 2]
    if single:
        note += (f" No bar at K = {', '.join(str(k) for k in single)}: only one group of K fits in the pool "
                 f"(no spread to measure).")
    return note


def show_vae_explorer(**kwargs):
    """Build and display the VAE explorer (the notebook's one line; preheated pools: see
    :func:`explorer.app.core.request.show_when_requested`)."""
    return show_when_requested(VAEExplorer, **kwargs)


__all__ = ["VAEExplorer", "VAEState", "show_vae_explorer"]
