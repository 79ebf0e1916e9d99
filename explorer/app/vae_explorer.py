"""The VAE explorer: controls -> :class:`VAEState` -> :class:`VAECompute` -> the panel views.

Built on :class:`explorer.app.core.ExplorerShell` (scheduling, presets, URL state, teacher
mode, theme, link, CSV, lazy tabs). What is here: the VAE's controls, the training tab, and
one small render function per panel.

Stale kinds: ``point`` (another digit: everything), ``mc`` (the Monte Carlo sample count),
``T``, ``lam``, ``K`` (cursors on cached curves) and ``order`` (the series lines).

The shipped model's session (torch, the checkpoint: ~3 s) loads only when something needs it:
the default digit's numbers ship in ``explorer/data/default_view_vae.npz`` (see
:mod:`explorer.app.vae_compute`), so the default page, and a URL that only moves cursors on its
curves (``T``, ``lam``, ``order``, ``K``), is built and shown without torch. :meth:`VAEExplorer.show`
then starts loading the session in a low-priority thread once the page has drawn its plots
(:meth:`~explorer.app.core.ExplorerShell.after_page_ready`: the browser first fetches every widget's
state from this kernel, which a torch import would slow); another digit, decoder scale or sample count, the Latent
space, Weight scale, Training and Hold q tabs wait for that load if it has not finished. torch is
imported only by :mod:`explorer.vae`.
"""

from __future__ import annotations

import atexit
import contextlib
import csv
import io
import os
import tempfile

import ipywidgets as W
import numpy as np

from ..views.html import escape, fmt, readout_html
from ..views.vae_explorer import (
    ElboView,
    ImportanceWeightView,
    IwaeView,
    LatentView,
    PosteriorLambdaView,
    TemperatureView,
    TrainingView,
    WeightScaleView,
)
from .core import ALL, ExplorerShell, Panel
from .core.request import show_when_requested
from .core.scheduling import loop_poster, running_loop, start_worker
from .vae_compute import SESSION_SEED, VAECompute
from .vae_q import HoldQ
from .vae_state import (
    CONTROL_NAMES,
    DEFAULT,
    K_GRID,
    LAM_GRID,
    LAM_STEP,
    MAX_ORDER,
    PRESETS,
    SAMPLE_GRID,
    SCALE_EXP_MAX,
    SCALE_EXP_MIN,
    SCALE_EXP_STEP,
    SCALE_GRID,
    T_EXP_MAX,
    T_EXP_MIN,
    T_EXP_STEP,
    T_GRID,
    VAEState,
    query_from_state,
    snap,
    state_from_query,
)

NOTEBOOK_PATH = "voila/render/vae_explorer.ipynb"
DEFAULT_TRAIN_EPOCHS = 20
POINT_STALE = {ALL, "point"}

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
    ROOT_CLASS = "vae-explorer"
    CONTROL_NAMES = CONTROL_NAMES
    PRESETS = PRESETS
    DEFAULT = DEFAULT
    GUIDE = GUIDE

    def __init__(self, query=None, page_url=None, checkpoint=None, session=None, prefetch=True):
        if session is None:
            compute = VAECompute.load_lazily(checkpoint)
            compute.seed_default_view(DEFAULT.index, DEFAULT.samples)
        else:
            compute = VAECompute(session)
        self._train_thread = None
        self.trained = None              # (path, TrainResult) of the last model trained here
        self._shipped = None             # (compute, name) of the model a trained one replaced
        self._device_shown = False
        self._history = {"epoch": [], "train": [], "val": []}
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

    def query_from_state(self, state):
        return query_from_state(state)

    def snap(self, state):
        return snap(state)

    # ------------------------------------------------------------------ controls
    def build_controls(self):
        style = {"description_width": "140px"}

        def wide():   # one Layout per widget (teacher mode hides widgets one by one)
            return W.Layout(width="310px")
        self.w_index = W.BoundedIntText(value=DEFAULT.index, min=0, max=self.compute.n_test - 1,
                                        description="Test digit #", layout=W.Layout(width="210px"), style=style)
        self.w_temperature = W.FloatLogSlider(value=1.0, base=10, min=T_EXP_MIN, max=T_EXP_MAX, step=T_EXP_STEP,
                                              description="Temperature", readout_format=".3g", layout=wide(),
                                              style=style)
        self.w_lam = W.FloatSlider(value=1.0, min=LAM_GRID[0], max=LAM_GRID[-1], step=LAM_STEP,
                                   description="Perturbation λ", readout_format=".3f", layout=wide(), style=style)
        self.w_order = W.IntSlider(value=4, min=1, max=MAX_ORDER, description="Cumulant order", layout=wide(),
                                   style=style)
        self.w_k = W.SelectionSlider(options=[int(k) for k in K_GRID.values], value=DEFAULT.K, description="IWAE K",
                                     layout=wide(), style=style)
        # the sample count recomputes Monte Carlo estimates: report on release only
        self.w_samples = W.SelectionSlider(options=[int(n) for n in SAMPLE_GRID.values], value=DEFAULT.samples,
                                           description="Monte Carlo samples", continuous_update=False,
                                           layout=wide(), style=style)
        # the decoder's weight scale recomputes every exact integral: report on release only
        self.w_scale = W.FloatLogSlider(value=1.0, base=2, min=SCALE_EXP_MIN, max=SCALE_EXP_MAX,
                                        step=SCALE_EXP_STEP, description="Decoder scale c",
                                        readout_format=".3g", continuous_update=False, layout=wide(), style=style)
        for w, cls in ((self.w_temperature, "vae-temperature"), (self.w_lam, "vae-lambda"), (self.w_scale, "vae-scale"),
                       (self.w_order, "vae-order"), (self.w_k, "vae-k"), (self.w_samples, "vae-samples"),
                       (self.w_index, "vae-index")):
            w.add_class(cls)
        self.bind(self.w_index, "index", "point", convert=int)
        self.bind(self.w_samples, "samples", "mc", convert=int)
        self.bind(self.w_scale, "scale", "point")
        self.bind(self.w_temperature, "T", "T")
        self.bind(self.w_lam, "lam", "lam")
        self.bind(self.w_order, "order", "order", convert=int)
        self.bind(self.w_k, "K", "K", convert=int)
        self.w_model_name = W.HTML(layout=W.Layout(width="310px"))
        self._build_training_widgets()
        return [self.w_model_name, W.HBox([self.w_index, self.w_reset]), self.w_scale, self.w_temperature,
                self.w_lam, self.w_order, self.w_k, self.w_samples]

    def _build_training_widgets(self):
        self.w_epochs = W.BoundedIntText(value=DEFAULT_TRAIN_EPOCHS, min=1, max=2000, description="Epochs",
                                         layout=W.Layout(width="160px"), style={"description_width": "60px"})
        self.w_epochs.add_class("vae-epochs")
        # seed 1 by default: the shipped model is seed 0, and a new seed shows a new latent layout
        self.w_train_seed = W.IntText(value=1, description="seed", layout=W.Layout(width="110px"),
                                      style={"description_width": "35px"})
        self.w_train = W.Button(description="Train a new model", layout=W.Layout(width="150px"))
        self.w_shipped = W.Button(description="Back to the shipped model", layout=W.Layout(width="200px"),
                                  disabled=True)
        self.w_progress = W.IntProgress(value=0, min=0, max=DEFAULT_TRAIN_EPOCHS, layout=W.Layout(width="300px"))
        self.w_device = W.HTML(layout=W.Layout(width="420px"))   # filled when the tab opens (torch)
        self.w_train_status = W.HTML(layout=W.Layout(width="520px"))
        self.w_train.on_click(lambda _b: self.train())
        self.w_shipped.on_click(lambda _b: self.use_shipped())
        self._train_box = W.VBox([self.w_device, W.HBox([self.w_epochs, self.w_train_seed, self.w_train]),
                                  self.w_progress, self.w_train_status, self.w_shipped])
        self._train_box.add_class("vae-training")

    def _show_training_device(self):
        """Name the training device (asks torch: done when the Training tab is first shown)."""
        if self._device_shown:
            return
        from ..vae import select_device
        dev = select_device("auto")
        self.w_device.value = (f"<div class='vae-device'>Training device: <b>{escape(dev)}</b>"
                               + ("" if str(dev).startswith(("cuda", "mps")) else " (no GPU found)") + "</div>")
        self._device_shown = True

    def hideable(self):
        return {"index": self.w_index, "scale": self.w_scale, "temperature": self.w_temperature, "lam": self.w_lam,
                "order": self.w_order, "K": self.w_k, "samples": self.w_samples, "training": self._train_box}

    def show_state(self, state):
        self.w_index.value = int(state.index)
        self.w_temperature.value = state.T
        self.w_lam.value = state.lam
        self.w_order.value = int(state.order)
        self.w_k.value = int(state.K)
        self.w_samples.value = int(state.samples)
        self.w_scale.value = state.scale

    def select(self, index):
        """Select test digit ``index`` (what a tap in the scatter does)."""
        self.w_index.value = int(index)

    # ------------------------------------------------------------------ panels
    def build_panels(self):
        return [
            Panel("posterior_lambda", "Posterior and F(λ)", lambda: PosteriorLambdaView(
                lam_range=(LAM_GRID[0], LAM_GRID[-1])), self._render_core, core=True),
            Panel("latent", "Latent space", LatentView, self._render_latent),
            Panel("elbo", "ELBO parts", ElboView, self._render_elbo),
            Panel("weights", "Weights' tail", ImportanceWeightView, self._render_weights),
            Panel("scale", "Weight scale", lambda: WeightScaleView(c_range=(SCALE_GRID[0], SCALE_GRID[-1])),
                  self._render_scale),
            Panel("temperature", "Temperature", lambda: TemperatureView(t_range=(T_GRID[0], T_GRID[-1])),
                  self._render_temperature),
            Panel("iwae", "IWAE", lambda: IwaeView(k_range=(K_GRID[0], K_GRID[-1])), self._render_iwae),
            Panel("training", "Training", TrainingView, self._render_training, widgets=[self._train_box]),
            HoldQ(self).panel(),
        ]

    def before_render(self, state, dirty):
        self.compute.check_index(state.index)          # InputError: refused, the plots stay
        if dirty & POINT_STALE and "vae-error" in self.w_message.value:
            self._message("")
        return state

    def refused_message(self, exc, state):
        return f"{exc}. The plots still show the previous digit."

    def csv_stale(self, dirty):
        return bool(dirty & (POINT_STALE | {"mc"}))

    def _render_core(self, v, state, dirty):
        b = self.compute.point(state.index, state.scale)
        mc = self.compute.monte_carlo(state.index, state.samples, state.scale)
        lc, kappa = b["lam_curve"], self.compute.series_rows(b)
        if dirty & POINT_STALE and b["posterior"] is not None:
            g = b["posterior"]
            v.show_posterior(g["z1"], g["z2"], g["density"], b["q"]["mu"], b["q"]["sigma"], b["q"]["draws"])
        exact = lc["exact"] if lc["exact"] is not None else np.full(LAM_GRID.size, np.nan)
        if dirty & (POINT_STALE | {"mc"}):
            vr = b["renyi"] if b["renyi"] is not None else exact * np.nan
            v.show_lambda_curves(LAM_GRID.values, exact, vr, mc["lam"], mc["stderr"], kappa, state.order,
                                 lc["lam_critical"])
        elif "order" in dirty:   # only the series lines change with the order
            v.show_series(LAM_GRID.values, kappa, state.order)
        j = LAM_GRID.index(state.lam)
        v.show_lambda_cursor(state.lam, exact[j] if np.isfinite(exact[j]) else mc["lam"][j])
        self.w_readout.value = self._readout(state, b, mc)

    def tap_actions(self):
        return {"digit": lambda i: self.select(int(i))}

    def _render_latent(self, v, state, dirty):
        if ALL in dirty:
            lat = self.compute.latents()
            v.show_latents(lat["mu"], lat["labels"], np.arange(self.compute.n_test))
        if dirty & POINT_STALE:
            b = self.compute.point(state.index, state.scale)
            lab = "" if b["label"] is None else f" (a {b['label']})"
            v.show_selected(b["q"]["mu"], f"<b>Test digit #{b['index']}{lab}</b>", b["image"], b["reconstruction"])

    def _render_elbo(self, v, state, dirty):
        if dirty & (POINT_STALE | {"mc"}):
            b = self.compute.point(state.index, state.scale)
            p, m = b["elbo_parts"], self.compute.monte_carlo(state.index, state.samples, state.scale)["elbo_parts"]
            v.show({"expected_energy": p["expected_energy"], "minus_entropy": -p["entropy"],
                    "neg_elbo": p["neg_elbo"], "free_energy": b["reference"][0], "kl_posterior": p["kl_posterior"]},
                   {"expected_energy": (m["expected_energy"], m["expected_energy_stderr"]),
                    "minus_entropy": (-m["entropy"], m["entropy_stderr"]),
                    "neg_elbo": (m["neg_elbo"], m["neg_elbo_stderr"]),
                    "kl_posterior": (m["kl_posterior"], m["kl_posterior_stderr"])})

    def _render_weights(self, v, state, dirty):
        if dirty & (POINT_STALE | {"mc"}):
            w = self.compute.monte_carlo(state.index, state.samples, state.scale)["weights"]
            f_exact = self.compute.point(state.index, state.scale)["reference"][0]
            v.show(w["log_w"], w["lam_critical"], w["pareto_k_exact"], w["pareto_k_hat"], w["ess"],
                   w["raw_free_energy"], w["psis_free_energy"], f_exact, reliable=w["reliable"],
                   k_threshold=w["k_threshold"])

    def _render_scale(self, v, state, dirty):
        if dirty & POINT_STALE:
            c = self.compute.weight_scale_curve(state.index)
            v.show(c["scale"], c["exact"], c["neg_elbo"])
        v.show_cursor(state.scale)

    def _render_temperature(self, v, state, dirty):
        t = self.compute.point(state.index, state.scale)["temperature"]
        if dirty & POINT_STALE:
            v.show_curves(t["T"], t["exact"] if t["exact"] is not None else np.full(t["T"].size, np.nan), t["bound"])
        k = T_GRID.index(state.T)
        v.show_cursor(state.T, t["exact"][k] if t["exact"] is not None else t["bound"][k])

    def _render_iwae(self, v, state, dirty):
        b = self.compute.point(state.index, state.scale)
        iw = b["iwae"]
        if dirty & POINT_STALE:
            v.show(iw["k"], iw["bound"], iw["stderr"], b["reference"][0],
                   note=_iwae_note(iw["k"], iw["groups"], b["report"]["iwae"]["pool"], self._pool_seed()))
        kk = K_GRID.index(state.K)
        v.show_cursor(state.K, iw["bound"][kk])

    def _render_training(self, v, state, dirty):
        if ALL in dirty:
            self._show_training_device()
            h = self._history
            v.show(h["epoch"], h["train"], h["val"])

    def _pool_seed(self):
        """The seed of the Monte Carlo pool the numbers come from (the app's sessions use SESSION_SEED;
        read from the session only once it is loaded: the first screen imports no torch)."""
        return self.compute.session.seed if self.compute.loader.loaded else SESSION_SEED

    def _readout(self, state, b, mc):
        j, k, kk = LAM_GRID.index(state.lam), T_GRID.index(state.T), K_GRID.index(state.K)
        seed = self._pool_seed()
        kappa = self.compute.series_rows(b)
        ex = b["lam_curve"]["exact"]
        temp, p, iw = b["temperature"], b["elbo_parts"], b["iwae"]
        lab = "" if b["label"] is None else f" (a {b['label']})"
        scaled = "" if state.scale == 1.0 else f", decoder weights × {state.scale:.3g}"
        heading = f"Test digit <b>#{b['index']}</b>{lab}{scaled}, in nats:"
        cells = [
            ("exact −ln p(x)", fmt(b["reference"][0], 4), None),
            ("−ELBO (bound)", fmt(p["neg_elbo"], 4), None),
            ("gap KL(q‖p(z|x))", fmt(p["kl_posterior"], 4), None),
            (f"exact F(λ = {state.lam:.3f})", fmt(None if ex is None else ex[j], 4), None),
            (f"series, order {state.order}", fmt(kappa[state.order - 1, j], 4), None),
            (f"Monte Carlo ({mc['n']} samples, seed {seed})", _with_error(mc["lam"][j], mc["stderr"][j]), None),
            (f"exact F_T at T = {state.T:.3g}", fmt(None if temp["exact"] is None else temp["exact"][k], 4), None),
            ("bound E_q[H] − T·S[q]", fmt(temp["bound"][k], 4), None),
            (f"IWAE, K = {int(K_GRID[kk])} (one pool, seed {seed})",
             _with_error(iw["bound"][kk], iw["stderr"][kk], "one group of K in the pool: no error bar"), None),
        ]
        note = (f"λ* = {b['lam_curve']['lam_critical']:.4f}: above it E_q[w^λ] is infinite. ± = 2 standard errors: "
                f"how far another seed's draws could move an estimate, not how far it is from the exact value.")
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
        ex = b["lam_curve"]["exact"]
        kappa = self.compute.series_rows(b)
        for j, lam in enumerate(LAM_GRID.values):
            if ex is not None:
                rows.append(("F_lambda_exact", lam, ex[j], ""))
                if lam > 0:
                    rows.append(("renyi_vr_bound", lam, b["renyi"][j], ""))
            rows.append(("F_lambda_monte_carlo", lam, mc["lam"][j], mc["stderr"][j]))
            for n in range(MAX_ORDER):
                rows.append((f"series_order_{n + 1}", lam, kappa[n, j], ""))
        t = b["temperature"]
        for k, tv in enumerate(t["T"]):
            if t["exact"] is not None:
                rows.append(("F_T_exact", tv, t["exact"][k], ""))
            rows.append(("F_T_bound", tv, t["bound"][k], ""))
        for kk, kv in enumerate(b["iwae"]["k"]):
            rows.append(("iwae_bound", kv, b["iwae"]["bound"][kk], b["iwae"]["stderr"][kk]))
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
            self._dirty.add(ALL)
            self.flush()

    def _show_model_name(self):
        self.w_model_name.value = (f"<div class='vae-model'>Model: <b>{escape(self._model_name)}</b>, "
                                   f"{self.compute.n_test} test digits</div>")

    # ------------------------------------------------------------------ training
    def train(self, epochs=None, background=True, **kwargs):
        """Train a new VAE (default :data:`DEFAULT_TRAIN_EPOCHS` epochs), then explore it.

        In the app this runs in a thread so that the kernel keeps answering the sliders;
        the progress bar and loss curve are updated on the kernel's event loop.
        """
        if self._train_thread is not None and self._train_thread.is_alive():
            self._train_status("A model is already training.")
            return None
        epochs = int(self.w_epochs.value if epochs is None else epochs)
        kwargs.setdefault("seed", int(self.w_train_seed.value))
        self.w_progress.max, self.w_progress.value = epochs, 0
        self._history = {"epoch": [], "train": [], "val": []}
        self._show_history()
        post = loop_poster(background)

        def callback(epoch, model, train_elbo, val_elbo):
            h = self._history
            h["epoch"].append(epoch)
            h["train"].append(-train_elbo)
            h["val"].append(-val_elbo)
            snap_ = {k: list(v) for k, v in h.items()}
            post(lambda: self._show_progress(snap_))

        def work():
            from ..vae import VAESession, save_checkpoint, train_vae
            try:
                res = train_vae(epochs=epochs, device="auto", progress=False, callback=callback, patience=0,
                                **kwargs)
                fd, path = tempfile.mkstemp(suffix=".pt", prefix="vae_explorer_")
                os.close(fd)
                save_checkpoint(res.model, path)
                session = VAESession(checkpoint=path, device="cpu")
            except Exception as exc:   # shown in the app: the kernel must survive a failed run
                msg = f"Training failed: {exc}"
                post(lambda: self._train_status(msg, error=True))
                return
            post(lambda: self._use_trained(path, res, session))

        self.w_train.disabled = True
        self._train_status(f"Training {epochs} epochs…")
        thread = start_worker(work, "vae-explorer-training", background)
        if thread is not None:
            self._train_thread = thread
        return thread

    def _show_history(self):
        p = self.panels["training"]
        if p.is_open:
            h = self._history
            p.view.show(h["epoch"], h["train"], h["val"])

    def _show_progress(self, h):
        self._history = h
        self.w_progress.value = len(h["epoch"])
        self._show_history()
        self._train_status(f"epoch {h['epoch'][-1]}: training loss {h['train'][-1]:.3f}, "
                           f"validation loss {h['val'][-1]:.3f} nats")

    def _train_status(self, text, error=False):
        color = "#b00020" if error else "inherit"
        self.w_train_status.value = f"<div class='vae-train-status' style='color:{color}'>{escape(text)}</div>"
        if error:   # a failed run: the button is free again
            self.w_train.disabled = False

    def _use_trained(self, path, res, session):
        # The checkpoint file stays while its model can be explored (its bytes key the disk cache of
        # the Hold q tab); the one it replaces goes now, and the last one when the kernel exits, so a
        # class training models all afternoon leaves nothing behind in the temporary folder.
        if self.trained is not None:
            _remove_quietly(self.trained[0])
        atexit.register(_remove_quietly, path)
        self.trained = (path, res)
        if self._shipped is None:        # kept with its caches: going back recomputes nothing
            self._shipped = (self.compute, self._model_name)
        ep = res.metadata.get("training", {}).get("epochs_run", len(res.history["epoch"]))
        self._train_status(f"Trained {ep} epochs; computing the plots of the new model…")
        self._use_compute(VAECompute(session), f"trained here ({ep} epochs)")
        self.w_train.disabled = False
        self.w_shipped.disabled = False
        self._train_status(f"Done: exploring the new model ({ep} epochs, test ELBO "
                           f"{res.metadata.get('final_test_elbo', float('nan')):.2f} nats).")

    def use_shipped(self):
        """Go back to the model the explorer was opened with (after training one here)."""
        if self._shipped is None:
            return
        (compute, name), self._shipped = self._shipped, None
        self._use_compute(compute, name)
        self.w_shipped.disabled = True


def _remove_quietly(path):
    with contextlib.suppress(OSError):
        os.remove(path)


def _with_error(value, stderr, reason="variance infinite: no error bar"):
    """A sampling estimate with ±2 standard errors, or the ``reason`` there is no error bar."""
    if np.isfinite(stderr):
        return fmt(value, 4, stderr)
    return fmt(value, 4) + f" <span style='color:#777'>({reason})</span>"


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
