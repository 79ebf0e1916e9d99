"""The VAE explorer: widgets -> explorer.vae (torch, imported lazily) -> Bokeh sources in place.

Selecting a test digit (tap in the latent scatter, or the index box) computes everything
for that point once (``_point_bundle``, cached per index: ~1-8 s on a busy 2-core machine).
The sliders then move on the grids the curves were computed on, so a move only reads the
cached arrays: Temperature, λ, IWAE K move a cursor; the order redraws the series lines.
Only the Monte Carlo sample count recomputes anything (Monte Carlo estimates from the
first N of the cached draws, cached per (index, N)).

torch is imported only when the explorer is built (the RBM explorer's kernels stay lean).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import csv
import io
import math
import os
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, replace
from urllib.parse import parse_qs, urlencode

import ipywidgets as W
import numpy as np

from ..errors import InputError
from ..views.vae_explorer import MAX_ORDER, VAEExplorerView
from .batching import BatchedUpdates
from .classroom import apply_bokeh_theme, classroom_options, hide_controls
from .preheat import RequestAdopter, page_base, show_when_requested

# Slider grids: the curves are computed on exactly these points, so a slider value is a grid
# point of the cached curves (no interpolation, no new integral on a move).
LAM_GRID = np.round(np.linspace(0.0, 1.5, 61), 12)                  # step 0.025
T_EXP_MIN, T_EXP_MAX, T_EXP_STEP = -0.6, 0.6, 0.03
T_GRID = 10.0 ** np.linspace(T_EXP_MIN, T_EXP_MAX, 41)              # T in [0.25, 4]
K_GRID = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
SAMPLE_CHOICES = (100, 300, 1000, 5000)                              # Monte Carlo sample counts
POSTERIOR_SAMPLES = 150                                              # dots drawn from q
NOTEBOOK_PATH = "voila/render/vae_explorer.ipynb"
DEFAULT_TRAIN_EPOCHS = 20


@dataclass
class VAEState:
    """Everything a URL encodes: ``?index=3&T=1&lam=0.5&order=4&K=100&samples=1000``."""
    index: int = 3
    T: float = 1.0
    lam: float = 1.0
    order: int = 4
    K: int = 100
    samples: int = 5000

    def copy(self, **changes):
        return replace(self, **changes)


DEFAULT = VAEState()

#: Scenarios (key -> (label, changes)). Indices chosen from the shipped checkpoint's numbers:
#: test digit 0 has a gap KL(q‖p(z|x)) of 0.07 nats, digit 16 of 6.3 nats.
PRESETS = {
    "good-fit": ("A digit where q fits well (gap 0.07 nats)", dict(index=0, order=4, lam=1.0)),
    "big-gap": ("A digit where q fits badly (gap 6.3 nats)", dict(index=16, order=4, lam=1.0)),
    "series-high-order": ("Higher cumulant orders at λ = 1", dict(index=16, order=8, lam=1.0)),
    "hot": ("High temperature: exact F_T against the bound", dict(index=7, T=3.0)),
    "iwae-closes-gap": ("IWAE with many samples closes the gap", dict(index=16, K=5000)),
}

#: Controls a teacher can hide (``?teacher=1&hide=order,samples``).
CONTROL_NAMES = ("preset", "index", "temperature", "lam", "order", "K", "samples", "training", "link", "csv")


def lam_index(lam):
    return int(min(max(round(float(lam) / 0.025), 0), LAM_GRID.size - 1))


def t_index(t):
    return int(min(max(round((math.log10(float(t)) - T_EXP_MIN) / T_EXP_STEP), 0), T_GRID.size - 1))


def _nearest(choices, v):
    return min(choices, key=lambda c: abs(math.log(c) - math.log(max(float(v), 1e-12))))


def state_from_query(query, n_test=None):
    """Parse a URL query into (VAEState, list of readable problems). Values are snapped to the grids."""
    q = {k: v[-1] for k, v in parse_qs((query or "").lstrip("?"), keep_blank_values=True).items()}
    st, problems = DEFAULT.copy(), []
    if "preset" in q:
        if q["preset"] in PRESETS:
            st = st.copy(**PRESETS[q["preset"]][1])
        else:
            problems.append(f"unknown preset {q['preset']!r}; known: {', '.join(PRESETS)}")

    def num(name, cast=float):
        try:
            v = cast(q[name])
        except ValueError:
            problems.append(f"URL parameter {name}={q[name]!r} is not a "
                            f"{'whole number' if cast is int else 'number'}")
            return None
        if not math.isfinite(v):
            problems.append(f"URL parameter {name}={q[name]!r} must be finite")
            return None
        return v

    if "index" in q and (v := num("index", int)) is not None:
        if v < 0 or (n_test is not None and v >= n_test):
            problems.append(f"URL parameter index={v} is outside the test set (0..{(n_test or 1) - 1})")
        else:
            st = st.copy(index=v)
    if "T" in q and (v := num("T")) is not None:
        if v <= 0:
            problems.append(f"URL parameter T={q['T']!r} must be > 0")
        else:
            st = st.copy(T=float(T_GRID[t_index(v)]))
    if "lam" in q and (v := num("lam")) is not None:
        st = st.copy(lam=float(LAM_GRID[lam_index(v)]))
    if "order" in q and (v := num("order", int)) is not None:
        st = st.copy(order=int(min(max(v, 1), MAX_ORDER)))
    if "K" in q and (v := num("K")) is not None and v > 0:
        st = st.copy(K=_nearest(K_GRID, v))
    if "samples" in q and (v := num("samples")) is not None and v > 0:
        st = st.copy(samples=_nearest(SAMPLE_CHOICES, v))
    return st, problems


def query_from_state(st):
    """The query string reproducing ``st`` (defaults left out)."""
    out = {}
    for k, v in asdict(st).items():
        if v != getattr(DEFAULT, k):
            out[k] = f"{v:.6g}" if isinstance(v, float) else str(v)
    return urlencode(out)


def _escape(text):
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("'", "&#39;").replace('"', "&quot;"))


class VAEExplorer(BatchedUpdates, RequestAdopter):
    """The VAE explorer; display :attr:`widget` (or call :meth:`show`).

    Parameters
    ----------
    query : str, optional
        URL query (default: Voila's ``QUERY_STRING``).
    page_url : str, optional
        Page URL for "link to this view" (default: Voila's ``VOILA_REQUEST_URL``).
    checkpoint : str, optional
        A VAE checkpoint (default: the shipped 2-D digits model).
    session : VAESession, optional
        Reuse an existing session (tests).
    """

    def __init__(self, query=None, page_url=None, checkpoint=None, session=None):
        if query is None:
            query = os.environ.get("QUERY_STRING", "")
        if page_url is None:
            page_url = os.environ.get("VOILA_REQUEST_URL", "")
        self.page_url = page_base(page_url)
        if session is None:
            from ..vae import VAESession   # torch: imported only by this app
            session = VAESession(checkpoint=checkpoint, device="cpu")
        self.classroom = classroom_options("")
        self.view = VAEExplorerView(lam_range=(LAM_GRID[0], LAM_GRID[-1]), t_range=(T_GRID[0], T_GRID[-1]),
                                    k_range=(K_GRID[0], K_GRID[-1]))
        self.timings = {}
        self._points = OrderedDict()     # index -> exact bundle
        self._mc = OrderedDict()         # (index, samples) -> Monte Carlo bundle
        self._dirty = set()
        self._suspend = 0
        self._in_tap = False
        self._train_thread = None
        self.trained = None              # (path, TrainResult) of the last model trained here
        self._shipped_session = None
        self._build_widgets()
        self._set_session(session, "shipped checkpoint" if checkpoint is None else str(checkpoint))
        self._apply_query(query)
        from jupyter_bokeh.widgets import BokehModel
        self.bokeh = BokehModel(self.view.layout)
        self.widget = W.HBox([self._controls, W.VBox([self.w_readout, self.bokeh])])
        self.widget.add_class("vae-explorer")

    def _apply_query(self, query):
        """Set the view a URL query asks for: state, teacher mode, theme (before BokehModel)."""
        self.classroom = classroom_options(query)
        state, problems = state_from_query(query, self.session.n_test)
        self.apply_state(state)
        unknown = hide_controls(self._hideable(), self.classroom.hide)
        if unknown:
            problems.append(f"teacher mode: no control named {', '.join(unknown)}; "
                            f"known: {', '.join(CONTROL_NAMES)}")
        if problems:
            self._message("; ".join(problems), error=True)
        apply_bokeh_theme(self.view.layout, self.classroom.theme)

    # ------------------------------------------------------------------ widgets
    def _build_widgets(self):
        style = {"description_width": "150px"}

        def wide():   # one Layout per widget (teacher mode hides widgets one by one)
            return W.Layout(width="335px")
        self.w_preset = W.Dropdown(options=[("choose a scenario…", "")] + [(v[0], k) for k, v in PRESETS.items()],
                                   value="", description="Preset", layout=wide(), style=style)
        self.w_index = W.BoundedIntText(value=DEFAULT.index, min=0, max=10**6, description="Test digit #",
                                        layout=W.Layout(width="220px"), style=style)
        self.w_temperature = W.FloatLogSlider(value=1.0, base=10, min=T_EXP_MIN, max=T_EXP_MAX, step=T_EXP_STEP,
                                              description="Temperature", readout_format=".3g", layout=wide(),
                                              style=style)
        self.w_lam = W.FloatSlider(value=1.0, min=0.0, max=1.5, step=0.025, description="Perturbation λ",
                                   readout_format=".3f", layout=wide(), style=style)
        self.w_order = W.IntSlider(value=4, min=1, max=MAX_ORDER, description="Cumulant order", layout=wide(),
                                   style=style)
        self.w_k = W.SelectionSlider(options=list(K_GRID), value=DEFAULT.K, description="IWAE K", layout=wide(),
                                     style=style)
        # the sample count recomputes Monte Carlo estimates: report on release only
        self.w_samples = W.SelectionSlider(options=list(SAMPLE_CHOICES), value=DEFAULT.samples,
                                           description="Monte Carlo samples", continuous_update=False,
                                           layout=wide(), style=style)
        for w, cls in ((self.w_temperature, "vae-temperature"), (self.w_lam, "vae-lambda"),
                       (self.w_order, "vae-order"), (self.w_k, "vae-k"), (self.w_samples, "vae-samples"),
                       (self.w_index, "vae-index")):
            w.add_class(cls)
        self.w_reset = W.Button(description="Reset", layout=W.Layout(width="90px"))
        self.w_message = W.HTML(layout=W.Layout(width="320px"))
        self.w_link = W.HTML(layout=W.Layout(width="320px"))
        self.w_csv = W.HTML(layout=W.Layout(width="320px"))
        # fixed size: a readout that changed height would move (and re-lay out) the Bokeh root
        self.w_readout = W.HTML(layout=W.Layout(height="72px", width="900px", overflow="hidden"))
        # training panel
        self.w_epochs = W.BoundedIntText(value=DEFAULT_TRAIN_EPOCHS, min=1, max=2000, description="Epochs",
                                         layout=W.Layout(width="160px"), style={"description_width": "60px"})
        # seed 1 by default: the shipped model is seed 0, and a new seed shows a new latent layout
        self.w_epochs.add_class("vae-epochs")
        self.w_train_seed = W.IntText(value=1, description="seed", layout=W.Layout(width="110px"),
                                      style={"description_width": "35px"})
        self.w_train = W.Button(description="Train a new model", layout=W.Layout(width="150px"))
        self.w_shipped = W.Button(description="Back to the shipped model", layout=W.Layout(width="200px"),
                                  disabled=True)
        self.w_progress = W.IntProgress(value=0, min=0, max=DEFAULT_TRAIN_EPOCHS, layout=W.Layout(width="300px"))
        self.w_device = W.HTML(layout=W.Layout(width="320px"))
        self.w_train_status = W.HTML(layout=W.Layout(width="320px"))
        self.w_model_name = W.HTML(layout=W.Layout(width="320px"))

        self.w_index.observe(lambda ch: self._mark("point"), "value")
        self.w_samples.observe(lambda ch: self._mark("mc"), "value")
        self.w_temperature.observe(lambda ch: self._mark("T"), "value")
        self.w_lam.observe(lambda ch: self._mark("lam"), "value")
        self.w_order.observe(lambda ch: self._mark("order"), "value")
        self.w_k.observe(lambda ch: self._mark("K"), "value")
        self.w_preset.observe(self._on_preset, "value")
        self.w_reset.on_click(lambda _b: self.reset())
        self.w_train.on_click(lambda _b: self.train())
        self.w_shipped.on_click(lambda _b: self.use_shipped())
        self.view.sources["latent"].selected.on_change("indices", self._on_tap)

        self._train_box = W.VBox([W.HTML("<b>Train a new model</b>"), self.w_device,
                                  W.HBox([self.w_epochs, self.w_train_seed]), self.w_train, self.w_progress,
                                  self.w_train_status,
                                  self.w_shipped])
        self._train_box.add_class("vae-training")
        self._controls = W.VBox([
            W.HTML("<h3 style='margin:4px 0'>Free-energy explorer: a VAE on digits</h3>"),
            self.w_model_name, self.w_preset, W.HBox([self.w_index, self.w_reset]),
            self.w_temperature, self.w_lam, self.w_order, self.w_k, self.w_samples,
            self.w_message, self.w_link, self.w_csv, self._train_box,
        ], layout=W.Layout(width="340px", min_width="340px"))
        self._controls.add_class("vae-controls")

    def _hideable(self):
        return {"preset": self.w_preset, "index": self.w_index,
                "temperature": self.w_temperature, "lam": self.w_lam, "order": self.w_order, "K": self.w_k,
                "samples": self.w_samples, "training": self._train_box, "link": self.w_link,
                "csv": self.w_csv}

    # ------------------------------------------------------------------ state
    @property
    def state(self):
        return VAEState(index=int(self.w_index.value), T=float(T_GRID[t_index(self.w_temperature.value)]),
                        lam=float(LAM_GRID[lam_index(self.w_lam.value)]), order=int(self.w_order.value),
                        K=int(self.w_k.value), samples=int(self.w_samples.value))

    def _update_after_batch(self):
        self._update()

    def apply_state(self, st):
        with self._batch():
            self._dirty.update({"point"})
            self.w_index.value = int(st.index)
            self.w_temperature.value = float(T_GRID[t_index(st.T)])
            self.w_lam.value = float(LAM_GRID[lam_index(st.lam)])
            self.w_order.value = int(st.order)
            self.w_k.value = int(st.K)
            self.w_samples.value = int(st.samples)

    def apply_preset(self, key):
        label, changes = PRESETS[key]
        self.apply_state(DEFAULT.copy(**changes))
        self._message(f"Scenario: {label}")

    def reset(self):
        self.apply_state(DEFAULT)
        self._message("")

    def select(self, index):
        """Select test digit ``index`` (what a tap in the scatter does)."""
        self.w_index.value = int(index)

    # ------------------------------------------------------------------ events
    def _mark(self, what):
        self._dirty.add(what)
        if not self._suspend:
            self._update()

    def _on_preset(self, change):
        if change["new"]:
            self.apply_preset(change["new"])
            self.w_preset.value = ""

    def _on_tap(self, attr, old, new):
        if self._in_tap or not new:
            return
        idx = int(self.view.sources["latent"].data["index"][sorted(new)[0]])
        self._in_tap = True
        try:
            self.view.sources["latent"].selected.indices = []   # a second tap on the same dot works
        finally:
            self._in_tap = False
        self.select(idx)

    def _message(self, text, error=False):
        if not text:
            self.w_message.value = ""
            return
        color = "#b00020" if error else "inherit"
        self.w_message.value = (f"<div class='vae-message{' vae-error' if error else ''}' "
                                f"style='color:{color};white-space:normal'>{_escape(text)}</div>")

    # ------------------------------------------------------------------ model / session
    def _set_session(self, session, name):
        self.session = session
        self._points.clear()
        self._mc.clear()
        self.w_index.max = session.n_test - 1
        lat = session.latent_means()
        self.view.show_latents(lat["mu"], lat["labels"], np.arange(session.n_test))
        self.w_model_name.value = (f"<div class='vae-model'>Model: <b>{_escape(name)}</b>, "
                                   f"{session.n_test} test digits</div>")
        from ..vae import select_device
        dev = select_device("auto")
        self.w_device.value = (f"<div class='vae-device'>Training device: <b>{_escape(dev)}</b>"
                               + ("" if str(dev).startswith(("cuda", "mps")) else " (no GPU found)") + "</div>")

    # ------------------------------------------------------------------ physics (cached)
    def _point_bundle(self, i):
        """Everything exact (and the default Monte Carlo) for test digit ``i``; cached."""
        hit = self._points.get(i)
        if hit is not None:
            self._points.move_to_end(i)
            return hit
        import torch

        s = self.session
        pa = s.point(i)
        x, label = s.test_image(i)
        lc = pa.lam_curve(LAM_GRID)
        ser = pa.series(LAM_GRID, MAX_ORDER)
        temp = pa.temperature(T_GRID)
        iw = pa.iwae(list(K_GRID))
        parts = pa.elbo_parts()
        f_ref, f_err, method = pa.reference
        grid = pa.posterior_grid(129) if pa.is_exact else None
        with torch.no_grad():   # decoder mean at z = μ: what the encoder-decoder pair gives back
            recon = torch.sigmoid(pa.model.decode(pa.mu_t)).cpu().numpy().reshape(s.dataset.image_shape)
        sigma = np.exp(0.5 * pa.logvar)
        # a few draws from q for the picture only (the estimates use the physics layer's own pool)
        rng = np.random.default_rng(1000 + i)
        samples = pa.mu[:2] + sigma[:2] * rng.standard_normal((POSTERIOR_SAMPLES, 2))
        with np.errstate(divide="ignore", invalid="ignore"):
            vr = np.where(LAM_GRID > 0, lc["exact"] / LAM_GRID, np.nan) if lc["exact"] is not None else None
        hit = dict(index=i, label=label, image=x.reshape(s.dataset.image_shape), recon=recon, pa=pa,
                   lam=lc, series=ser, vr=vr, temp=temp, iwae=iw, parts=parts, f=f_ref, f_err=f_err,
                   method=method, grid=grid, mu=pa.mu, sigma=sigma, samples=samples)
        self._points[i] = hit
        while len(self._points) > 32:
            self._points.popitem(last=False)
        return hit

    def _mc_bundle(self, i, n):
        """Monte Carlo estimates from the first ``n`` of the point's cached draws; cached."""
        key = (i, n)
        hit = self._mc.get(key)
        if hit is not None:
            return hit
        pa = self._point_bundle(i)["pa"]
        if n != pa.n_samples:
            # a shallow copy shares the cached draws and quadrature; only the count differs
            pa = copy.copy(pa)
            pa.n_samples = min(int(n), pa.n_iwae)
        lc = pa.lam_curve(LAM_GRID)
        hit = dict(lam_mc=lc["mc"], lam_se=lc["mc_stderr"], parts_mc=pa.elbo_parts()["mc"], n=pa.n_samples)
        self._mc[key] = hit
        while len(self._mc) > 64:
            self._mc.popitem(last=False)
        return hit

    # ------------------------------------------------------------------ updates
    def _update(self):
        dirty, self._dirty = self._dirty, set()
        if not dirty:
            return
        t0 = time.perf_counter()
        doc = self.view.layout.document
        if doc is not None:
            doc.hold("combine")
        try:
            self._update_inner(dirty)
        finally:
            if doc is not None:
                doc.unhold()
        kind = "point" if "point" in dirty else "mc" if "mc" in dirty else "+".join(sorted(dirty))
        self.timings[kind] = time.perf_counter() - t0

    def _update_inner(self, dirty):
        i = int(self.w_index.value)
        try:
            i = self.session.check_index(i)
        except InputError as exc:
            self._message(f"{exc}. The plots still show the previous digit.", error=True)
            return
        try:
            b = self._point_bundle(i)
            mc = self._mc_bundle(i, int(self.w_samples.value))
        except InputError as exc:
            self._message(f"{exc}. The plots keep the last good state.", error=True)
            return
        if "vae-error" in self.w_message.value and "point" in dirty:
            self._message("")
        v = self.view
        everything = "point" in dirty
        if everything:
            lab = "" if b["label"] is None else f" (a {b['label']})"
            v.show_selected(b["mu"], f"<b>Test digit #{i}{lab}</b>")
            v.show_images(b["image"], b["recon"])
            if b["grid"] is not None:
                g = b["grid"]
                v.show_posterior(g["z1"], g["z2"], g["density"], b["mu"], b["sigma"], b["samples"])
            t = b["temp"]
            v.show_temperature_curves(t["T"], t["exact"] if t["exact"] is not None else np.full(t["T"].size, np.nan),
                                      t["bound"])
            iw = b["iwae"]
            v.show_iwae(iw["k"], iw["bound"], iw["stderr"], b["f"])
        lc, ser = b["lam"], b["series"]
        kappa = ser["exact_kappa"] if ser["exact_kappa"] is not None else ser["mc_kappa"]
        if everything or "mc" in dirty:
            exact = lc["exact"] if lc["exact"] is not None else np.full(LAM_GRID.size, np.nan)
            v.show_lambda_curves(LAM_GRID, exact, b["vr"] if b["vr"] is not None else exact * np.nan,
                                 mc["lam_mc"], mc["lam_se"], kappa, int(self.w_order.value), lc["lam_critical"])
        elif "order" in dirty:   # only the series lines change with the order
            v.show_series(LAM_GRID, kappa, int(self.w_order.value))
        if everything or "mc" in dirty:
            p, m = b["parts"], mc["parts_mc"]
            v.show_bars({"expected_energy": p["expected_energy"], "minus_entropy": -p["entropy"],
                         "neg_elbo": p["neg_elbo"], "free_energy": b["f"], "kl_posterior": p["kl_posterior"]},
                        {"expected_energy": (m["expected_energy"], m["expected_energy_stderr"]),
                         "minus_entropy": (-m["entropy"], m["entropy_stderr"]),
                         "neg_elbo": (m["neg_elbo"], m["neg_elbo_stderr"]),
                         "kl_posterior": (m["kl_posterior"], m["kl_posterior_stderr"])})
        j, k = lam_index(self.w_lam.value), t_index(self.w_temperature.value)
        kk = list(K_GRID).index(int(self.w_k.value))
        if everything or dirty & {"lam", "mc"}:
            ex = b["lam"]["exact"]
            y = ex[j] if ex is not None and np.isfinite(ex[j]) else mc["lam_mc"][j]
            v.show_lambda_cursor(LAM_GRID[j], y)
        if everything or "T" in dirty:
            t = b["temp"]
            v.show_temperature_cursor(T_GRID[k], t["exact"][k] if t["exact"] is not None else t["bound"][k])
        if everything or "K" in dirty:
            v.show_iwae_cursor(K_GRID[kk], b["iwae"]["bound"][kk])
        self._update_readout(b, mc, j, k, kk)
        self._update_link()
        if everything or "mc" in dirty:
            self._update_csv()

    def _update_readout(self, b, mc, j, k, kk):
        order = int(self.w_order.value)
        lam, t = LAM_GRID[j], T_GRID[k]
        ser = b["series"]["exact_kappa"] if b["series"]["exact_kappa"] is not None else b["series"]["mc_kappa"]
        ex = b["lam"]["exact"]
        ex_l = ex[j] if ex is not None else float("nan")
        temp = b["temp"]

        def fmt(x, se=None):
            if x is None or (isinstance(x, float) and np.isnan(x)):
                return "—"
            if x == -np.inf:
                return "−∞ (diverges)"
            return f"<b>{x:.4f}</b>" + ("" if se is None else f" ± {2 * se:.4f}")

        p = b["parts"]
        ex_t = temp["exact"][k] if temp["exact"] is not None else None
        lines = [
            f"Test digit #{b['index']}{'' if b['label'] is None else ' (a ' + str(b['label']) + ')'}, in nats: "
            f"exact −ln p(x) = {fmt(b['f'])}, −ELBO = {fmt(p['neg_elbo'])}, "
            f"gap KL(q‖p(z|x)) = {fmt(p['kl_posterior'])}",
            f"At λ = {lam:.3f} (λ* = {b['lam']['lam_critical']:.4f}): exact F(λ) = {fmt(ex_l)}, "
            f"series of order {order} = {fmt(ser[order - 1, j])}, "
            f"Monte Carlo ({mc['n']} samples) = {fmt(mc['lam_mc'][j], mc['lam_se'][j])}",
            f"At T = {t:.3g}: exact F_T = {fmt(ex_t)}, bound E_q[H] − T·S[q] = {fmt(temp['bound'][k])}; "
            f"IWAE with K = {K_GRID[kk]}: {fmt(b['iwae']['bound'][kk], b['iwae']['stderr'][kk])}",
        ]
        self.w_readout.value = ("<div class='vae-readout' style='font-size:13px;line-height:1.6'>"
                                + "<br>".join(lines) + "</div>")

    def _update_link(self):
        q = query_from_state(self.state)
        extra = urlencode(self.classroom.query_items(), safe=",")
        q = "&".join(p for p in (q, extra) if p)
        url = (self.page_url or NOTEBOOK_PATH) + ("?" + q if q else "")
        self.w_link.value = (f"<div class='vae-link'><a href='{_escape(url)}' target='_blank'>Link to this view"
                             f"</a>: <code style='word-break:break-all'>{_escape(url)}</code></div>")

    def csv(self):
        """The curves of the selected digit as CSV (long format: curve, x, value, stderr)."""
        b = self._point_bundle(int(self.w_index.value))
        mc = self._mc_bundle(b["index"], int(self.w_samples.value))
        rows = []
        ex = b["lam"]["exact"]
        kappa = b["series"]["exact_kappa"] if b["series"]["exact_kappa"] is not None else b["series"]["mc_kappa"]
        for j, lam in enumerate(LAM_GRID):
            if ex is not None:
                rows.append(("F_lambda_exact", lam, ex[j], ""))
                if lam > 0:
                    rows.append(("renyi_vr_bound", lam, b["vr"][j], ""))
            rows.append(("F_lambda_monte_carlo", lam, mc["lam_mc"][j], mc["lam_se"][j]))
            for n in range(MAX_ORDER):
                rows.append((f"series_order_{n + 1}", lam, kappa[n, j], ""))
        t = b["temp"]
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
            w.writerow([name, f"{x:.12g}", yv, "" if se == "" else f"{se:.12g}"])
        return buf.getvalue()

    def _update_csv(self):
        b64 = base64.b64encode(self.csv().encode()).decode()
        self.w_csv.value = (f"<a class='vae-csv' download='vae_explorer_digit_{int(self.w_index.value)}.csv' "
                            f"href='data:text/csv;base64,{b64}'>Download the curves (CSV)</a>")

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
        self.view.show_training([], [], [])
        self._history = {"epoch": [], "train": [], "val": []}
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        post = (lambda fn: loop.call_soon_threadsafe(fn)) if (loop is not None and background) else (lambda fn: fn())

        def callback(epoch, model, train_elbo, val_elbo):
            h = self._history
            h["epoch"].append(epoch)
            h["train"].append(-train_elbo)
            h["val"].append(-val_elbo)
            snap = {k: list(v) for k, v in h.items()}
            post(lambda: self._show_progress(snap))

        def work():
            from ..vae import VAESession, save_checkpoint, train_vae
            try:
                res = train_vae(epochs=epochs, device="auto", progress=False, callback=callback,
                                patience=0, **kwargs)
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
        if background:
            self._train_thread = threading.Thread(target=work, name="vae-explorer-training", daemon=True)
            self._train_thread.start()
            return self._train_thread
        work()
        return None

    def _show_progress(self, h):
        self.w_progress.value = len(h["epoch"])
        self.view.show_training(h["epoch"], h["train"], h["val"])
        self._train_status(f"epoch {h['epoch'][-1]}: training loss {h['train'][-1]:.3f}, "
                           f"validation loss {h['val'][-1]:.3f} nats")

    def _train_status(self, text, error=False):
        color = "#b00020" if error else "inherit"
        self.w_train_status.value = f"<div class='vae-train-status' style='color:{color}'>{_escape(text)}</div>"
        if error:   # a failed run: the button is free again
            self.w_train.disabled = False

    def _use_trained(self, path, res, session):
        self.trained = (path, res)
        if self._shipped_session is None:
            self._shipped_session = self.session
        ep = res.metadata.get("training", {}).get("epochs_run", len(res.history["epoch"]))
        self._train_status(f"Trained {ep} epochs; computing the plots of the new model…")
        self._set_session(session, f"trained here ({ep} epochs)")
        self._dirty.add("point")
        self._update()
        self.w_train.disabled = False
        self.w_shipped.disabled = False
        self._train_status(f"Done: exploring the new model ({ep} epochs, test ELBO "
                           f"{res.metadata.get('final_test_elbo', float('nan')):.2f} nats).")

    def use_shipped(self):
        if self._shipped_session is None:
            return
        self._set_session(self._shipped_session, "shipped checkpoint")
        self._shipped_session = None
        self.w_shipped.disabled = True
        self._dirty.add("point")
        self._update()

    # ------------------------------------------------------------------ display
    def show(self):
        """Display the explorer (BokehJS inline, only the bundles used: offline and in Voila)."""
        from IPython.display import display

        from ..views.resources import load_bokehjs

        load_bokehjs()
        display(self.widget)
        return self


def show_vae_explorer(**kwargs):
    """Build and display the VAE explorer (the notebook's one line; preheated pools: see
    :func:`explorer.app.preheat.show_when_requested`)."""
    return show_when_requested(VAEExplorer, **kwargs)
