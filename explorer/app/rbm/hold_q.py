"""The RBM explorer's "Hold q" tab: the student holds the product law q and runs mean field from it.

What the student holds (q, the iteration shown, damping, the start) belongs to this tab, not to
the explorer's URL State: the tab reads the explorer's model and temperature from the State its
render receives, and a new model or temperature resets q to the chosen start.

* :class:`HoldQCompute`: cached calls into :mod:`explorer.rbm.playground` (no widgets);
* :class:`HoldQ`: the widgets (start, seed, damping, Step, Play, Reset, random
  starts, the keyboard fallback unit + m) and the drag handler of the bars' handles.

Play is an ipywidgets ``Play`` counting through the iteration index of a path computed once
from the held q (lazily, on the first Step/Play after q changed): the browser drives the
animation, the kernel only picks row ``k`` of the path.
"""

from __future__ import annotations

import ipywidgets as W
import numpy as np

from ...errors import InputError
from ...rbm import playground as pg
from ...rbm.explore import magnetisation_labels
from ...views.glossary import annotate
from ...views.html import MUTED_COLOUR, escape, message_html
from ...views.rbm.hold_q import HoldQView
from ..core import Panel
from ..core.cache import LRU
from ..core.components import held, play_control
from ..core.lazy import LazyWidgets
from .state import MODEL_FIELDS, T_GRID

#: The Play widget's buttons carry only Font Awesome icons, which the offline Voila page does not
#: load: they get words instead (and the same in JupyterLab).
_PLAY_CSS = """<style>
.pg-play button { width: auto !important; padding: 0 8px; }
.pg-play button i { display: none; }
.pg-play button:nth-of-type(1)::after { content: "Play"; }
.pg-play button:nth-of-type(1):has(.fa-pause)::after { content: "Pause"; }
.pg-play button:nth-of-type(2)::after { content: "Stop"; }
</style>"""
#: Longest path computed (iterations); Play stops at its end.
MAX_ITERATIONS = 2000
#: Default number of random starts of the basin count.
DEFAULT_STARTS = 50
MAX_STARTS = 1000


class HoldQCompute:
    """The playground's numbers for one RBM and temperature, cached (no widgets).

    ``model_key`` identifies the RBM (the explorer's model key and weight norm); arrays are keyed
    by their bytes.
    """

    def __init__(self):
        self._starts = LRU(32)
        self._paths = LRU(16)
        self._basins = LRU(16)

    def start(self, rbm, model_key, temperature, start, seed):
        key = (model_key, temperature, start, int(seed) if start == "random" else 0)
        mv, mh = self._starts.get_or(key, lambda: pg.start_magnetisations(rbm, temperature, start, seed=seed))
        return mv.copy(), mh.copy()

    def path(self, rbm, model_key, temperature, visible, hidden, damping, first):
        key = (model_key, temperature, np.asarray(visible).tobytes(), np.asarray(hidden).tobytes(), damping, first)
        return self._paths.get_or(key, lambda: pg.mean_field_path(
            rbm, temperature, visible, hidden, damping=damping, first=first, max_iter=MAX_ITERATIONS))

    def basins(self, rbm, model_key, temperature, n_starts, seed=0):
        key = (model_key, temperature, int(n_starts), seed)
        return self._basins.get_or(key, lambda: pg.basins(rbm, temperature, n_starts, seed=seed))

    @staticmethod
    def functionals(rbm, temperature, visible, hidden):
        return pg.functionals(rbm, temperature, visible, hidden)


class HoldQ(LazyWidgets):
    """The "Hold q" tab of an :class:`~explorer.app.rbm.explorer.RBMExplorer`.

    Parameters
    ----------
    explorer : RBMExplorer
        Its ``compute`` gives the RBM of a State, the exact free energy and marginals.
    """

    LAZY = ("widgets",)

    def __init__(self, explorer):
        self.explorer = explorer
        self.compute = HoldQCompute()
        self.view = None
        self.state = None             # the explorer State last rendered
        self.context = None           # (model key, temperature) q belongs to
        self.q0 = None                # (m_v, m_h): the start of the path
        self.path = None              # MeanFieldPath from q0, computed on the first Step/Play
        self.index = 0                # iteration shown
        self.first = "hidden"         # layer updated first: the one the student did not just move
        self.minima = []              # the basins of the random starts
        self._slider_shown = None     # the value this code last put on the m slider
        self._syncing = False
        # the widgets are built when the tab is first opened (LazyWidgets)

    # ------------------------------------------------------------------ widgets
    def _build_widgets(self):
        style = {"description_width": "initial"}
        self.w_start = W.Dropdown(options=[(label, key) for key, label in pg.STARTS.items()], value="half",
                                  description="Start", layout=W.Layout(width="230px"), style=style)
        self.w_seed = W.BoundedIntText(value=0, min=0, max=2**31 - 1, description="seed",
                                       layout=W.Layout(width="120px"), style=style)
        self.w_damping = W.FloatSlider(value=0.0, min=0.0, max=pg.MAX_DAMPING, step=0.05, description="Damping",
                                       readout_format=".2f", continuous_update=False,
                                       layout=W.Layout(width="260px"), style=style)
        self.w_step = W.Button(description="Step", layout=W.Layout(width="70px"))
        self.w_play = play_control("Play the iterations", MAX_ITERATIONS, 150, "auto")
        self.w_reset = W.Button(description="Reset q", layout=W.Layout(width="80px"))
        self.w_starts = W.BoundedIntText(value=DEFAULT_STARTS, min=1, max=MAX_STARTS, description="random starts",
                                         layout=W.Layout(width="190px"), style=style)
        # the keyboard's way to set q (and the fallback where dragging is awkward)
        self.w_unit = W.Dropdown(options=[("v1", 0)], value=0, description="Unit", layout=W.Layout(width="150px"),
                                 style=style)
        self.w_m = W.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.01, description="m", readout_format=".2f",
                                 continuous_update=True, layout=W.Layout(width="280px"), style=style)
        self.w_readout = W.HTML("", layout=W.Layout(width="100%", min_height="44px", margin="0"))
        self.w_message = W.HTML("", layout=W.Layout(width="100%", margin="0"))
        for w, cls in ((self.w_start, "pg-start"), (self.w_seed, "pg-seed"), (self.w_damping, "pg-damping"),
                       (self.w_step, "pg-step"), (self.w_play, "pg-play"), (self.w_reset, "pg-reset"),
                       (self.w_starts, "pg-starts"), (self.w_unit, "pg-unit"), (self.w_m, "pg-m"),
                       (self.w_readout, "pg-readout")):
            w.add_class(cls)

        self.w_start.observe(lambda _c: self._guarded(self.reset_q), "value")
        self.w_seed.observe(lambda _c: self._guarded(self.reset_q) if self.w_start.value == "random" else None,
                            "value")
        self.w_damping.observe(lambda _c: self._guarded(self._new_path), "value")
        self.w_step.on_click(lambda _b: self.step())
        self.w_play.observe(lambda c: self._guarded(self.goto, c["new"]), "value")
        self.w_reset.on_click(lambda _b: self.reset_q())
        self.w_starts.observe(lambda _c: self._guarded(self._show_basins), "value")
        self.w_unit.observe(lambda c: self._guarded(self._show_unit, c["new"]), "value")
        self.w_m.observe(lambda c: self._guarded(self._on_slider, c["new"]), "value")

        self.widgets = [
            W.HBox([self.w_start, self.w_seed, self.w_damping], layout=W.Layout(flex_flow="row wrap")),
            W.HBox([self.w_step, self.w_play, self.w_reset, self.w_starts], layout=W.Layout(flex_flow="row wrap")),
            W.HBox([self.w_unit, self.w_m], layout=W.Layout(flex_flow="row wrap")),
            self.w_readout, self.w_message, W.HTML(_PLAY_CSS, layout=W.Layout(display="none"))]

    def panel(self):
        """The explorer's tab."""
        return Panel("hold_q", "Hold q", self.build, self.render, widgets=lambda: self.widgets,
                     reads=MODEL_FIELDS | {"norm", "T"})

    def _guarded(self, fn, *args):
        if self._syncing or self.state is None:
            return None
        try:
            return fn(*args)
        except InputError as exc:
            self.w_message.value = message_html("explorer", str(exc), error=True)
            return None

    def _set_quietly(self, widget, **values):
        previous, self._syncing = self._syncing, True
        try:
            for k, v in values.items():
                setattr(widget, k, v)
        finally:
            self._syncing = previous

    # ------------------------------------------------------------------ the tab
    def build(self):
        self.view = HoldQView()
        self.view.sources["pg_handles"].on_change("data", self._on_handles)
        return self.view

    def render(self, view, state, changed):
        """Show the explorer's model at its temperature; a new model or temperature resets q."""
        self.state = state
        context = (self._model_key(state), float(state.T))
        if context != self.context:
            self.context = context
            rbm = self.rbm
            self._set_quietly(self.w_unit, options=[(u, k) for k, u in enumerate(
                magnetisation_labels(rbm.n_visible, rbm.n_hidden))], value=0)
            self.reset_q(draw=False)
            self._show_basins(draw=False)
        self._draw()

    # ------------------------------------------------------------------ what the tab holds
    @property
    def rbm(self):
        return self.explorer.compute.rbm(self.state)

    @property
    def temperature(self):
        return float(self.state.T)

    def _model_key(self, state):
        return self.explorer.compute.curve_key(state)[:2]

    def exact(self):
        """``(F, m_v, m_h)``: the exact free energy and marginals (the explorer's cached numbers)."""
        c = self.explorer.compute.curves(self.state)
        f = float(c.exact[T_GRID.index(self.temperature)])
        m = self.explorer.compute.point(self.state).magnetisations["exact"]
        nv = self.rbm.n_visible
        return f, m[:nv], m[nv:]

    @property
    def q(self):
        """The magnetisations shown now: row ``index`` of the path, or the held start."""
        if self.path is None:
            return self.q0
        return self.path.visible[self.index], self.path.hidden[self.index]

    def reset_q(self, draw=True):
        """q back to the chosen start; the path starts again."""
        self.q0 = self.compute.start(self.rbm, self.context[0], self.temperature, self.w_start.value,
                                     self.w_seed.value)
        self.first = "hidden"
        self._new_path(draw=draw)

    def _new_path(self, draw=True):
        self.path, self.index = None, 0
        self._set_quietly(self.w_play, playing=False, value=0, max=MAX_ITERATIONS)
        self.w_message.value = ""
        if draw:
            self._draw()

    def _ensure_path(self):
        if self.path is None:
            mv, mh = self.q0
            self.path = self.compute.path(self.rbm, self.context[0], self.temperature, mv, mh,
                                          float(self.w_damping.value), self.first)
            self._set_quietly(self.w_play, max=max(self.path.n_iterations, 1))
        return self.path

    def goto(self, k):
        """Show iteration ``k`` of the path from the held q (computed the first time)."""
        path = self._ensure_path()
        self.index = int(min(max(k, 0), path.n_iterations))
        if k > path.n_iterations or (self.index == path.n_iterations and self.w_play.playing):
            self._set_quietly(self.w_play, playing=False)
        if self.w_play.value != self.index:
            self._set_quietly(self.w_play, value=self.index)
        self._draw()

    def step(self):
        """One more iteration (Step)."""
        if self.state is not None:
            self._guarded(self.goto, self.index + 1)

    def set_magnetisation(self, unit, m):
        """The student sets unit ``unit`` of q to ``m`` (a drag or the slider): a new start."""
        mv, mh = (x.copy() for x in self.q)
        nv = mv.size
        if not 0 <= int(unit) < nv + mh.size:
            raise InputError(f"unit must be 0..{nv + mh.size - 1}, got {unit}")
        m = float(m)
        if not np.isfinite(m):
            raise InputError("a magnetisation must be a number in [0, 1]")
        m = min(max(m, 0.0), 1.0)
        if unit < nv:
            mv[unit] = m
            self.first = "hidden"      # the other layer answers first
        else:
            mh[unit - nv] = m
            self.first = "visible"
        pg.check_magnetisations(self.rbm, mv, mh)
        self.q0 = (mv, mh)
        self._new_path(draw=False)
        self._set_quietly(self.w_unit, value=int(unit))
        self._draw()

    # ------------------------------------------------------------------ events
    def _on_handles(self, attr, old, new):
        if self._syncing or self.view is None or self.state is None:
            return
        # Changes made in _draw arrive here too (Bokeh calls back when the document's hold
        # ends): those data are q itself, and moved is None.
        current = np.concatenate(self.q)
        moved = self.view.dragged(new, current)
        if moved is not None:
            self._guarded(self.set_magnetisation, *moved)
        elif not _shows(new, current):
            self._draw()          # not a usable drag (a deleted handle, a NaN): put the handles back

    def _on_slider(self, m):
        # The browser's slider sends back the value this code put there, rounded to its step:
        # that is no change of q.
        if self._slider_shown is not None and abs(m - self._slider_shown) < 1e-9:
            return
        self.set_magnetisation(int(self.w_unit.value), m)

    def _show_unit(self, unit):
        self._put_slider(np.concatenate(self.q)[int(unit)])

    def _put_slider(self, m):
        """Show ``m`` on the fallback slider, on the slider's own grid (so its echo is recognised)."""
        self._slider_shown = round(float(m), 2)
        self._set_quietly(self.w_m, value=self._slider_shown)

    # ------------------------------------------------------------------ drawing
    def _draw(self):
        if self.view is None or self.state is None:
            return
        rbm, t = self.rbm, self.temperature
        exact_f, exact_v, exact_h = self.exact()
        mv, mh = self.q
        if self.path is None:
            values = self.compute.functionals(rbm, t, mv, mh)
        else:
            p, k = self.path, self.index
            values = pg.Functionals(float(p.free_energy[k]), float(p.tap2[k]), float(p.tap3[k]))
        # the numbers first: the readout's message leaves before the plots' patches
        self.w_readout.value = readout(values, exact_f, self.index, self.path)
        with held(self.view):
            self._syncing = True          # the handles' data are set here: not a drag
            try:
                self.view.show_q(mv, mh, exact_v, exact_h, magnetisation_labels(rbm.n_visible, rbm.n_hidden))
                if self.path is None:
                    self.view.show_path([values.free_energy], [values.tap2], [values.tap3], exact_f)
                else:
                    self.view.show_path(self.path.free_energy, self.path.tap2, self.path.tap3, exact_f,
                                        upto=self.index)
                self._put_slider(np.concatenate([mv, mh])[int(self.w_unit.value)])
            finally:
                self._syncing = False

    def _show_basins(self, draw=True):
        minima = self.compute.basins(self.rbm, self.context[0], self.temperature, int(self.w_starts.value))
        self.minima = minima
        if self.view is not None:
            self.view.show_basins([m.free_energy for m in minima], [m.count for m in minima])
            lowest = minima[0].free_energy
            self.view.show_note(
                f"{len(minima)} distinct minim{'um' if len(minima) == 1 else 'a'} from {self.w_starts.value} "
                f"random starts; the lowest, F[q] = {lowest:.6f}, is what mean field reports.")


def _shows(data, m):
    """Whether the handles' ``data`` sit exactly on the units at magnetisations ``m``."""
    x, y = np.asarray(data.get("x", []), dtype=float), np.asarray(data.get("y", []), dtype=float)
    return x.shape == y.shape == m.shape and np.array_equal(x, np.arange(m.size)) and np.array_equal(y, m)


def readout(values, exact_f, index, path):
    """The line under the controls: F[q] ≥ exact F (gap), and TAP at the same q (not bounds)."""
    gap = values.free_energy - exact_f
    where = "your q" if path is None else (f"iteration {index} of {path.n_iterations}"
                                           + (" (stationary)" if index == path.n_iterations and path.converged else ""))
    return annotate(f"<div class='pg-readout-text' style='font-size:13px;line-height:1.4'>"
            f"At {escape(where)}: <b>F[q] = <span class='pg-fq'>{values.free_energy:.6f}</span></b> ≥ "
            f"exact F = <span class='pg-exact'>{exact_f:.6f}</span> "
            f"(gap <span class='pg-gap'>{gap:.6f}</span> = T·KL(q‖p)). "
            f"<span style='color:{MUTED_COLOUR}'>TAP2 = {values.tap2:.6f}, TAP3 = {values.tap3:.6f} at the same q: "
            f"not bounds.</span></div>")


__all__ = ["HoldQ", "HoldQCompute", "readout"]
