"""One declaration per State field (explorer.app.core.fields) and panels that declare what they read.

The shell renders a panel only when a field it reads changed since the State it last rendered, and
hands it exactly those fields; a panel in a hidden tab catches up by the same difference.
"""

from __future__ import annotations

import datetime
import io

import numpy as np
import pytest

from explorer.app.core import Field, Schema
from explorer.app.core.state import QueryError, parse_int
from explorer.app.rbm.explorer import RBMExplorer
from explorer.app.rbm.state import SCHEMA


def _positive_int(s):
    v = parse_int("n", s)
    if v <= 0:
        raise QueryError(f"URL parameter n={s!r} must be > 0")
    return v


@pytest.fixture
def schema():
    return Schema("Toy", [Field("n", 3, parse=_positive_int, snap=lambda v: min(int(v), 10)),
                          Field("name", "a", parse=str),
                          Field("serial", 0)],
                  presets={"big": ("Big", dict(n=10), "")})


def test_the_schema_makes_the_state_codec_and_snapping(schema):
    st, problems = schema.from_query("n=50&name=b&serial=7&other=1")
    assert (st.n, st.name, st.serial) == (10, "b", 0)        # snapped; serial is not in the URL
    assert problems == []
    assert schema.to_query(st) == "n=10&name=b"
    assert schema.to_query(st.copy(serial=5)) == "n=10&name=b"
    st, problems = schema.from_query("n=-1")
    assert st.n == 3 and problems == ["URL parameter n='-1' must be > 0"]
    st, problems = schema.from_query("preset=big&name=c")
    assert (st.n, st.name) == (10, "c") and problems == []
    assert schema.from_query("preset=nope")[1] == ["unknown preset 'nope'; known: big"]


def test_changed_names_the_fields_that_differ(schema):
    a = schema.default
    assert schema.changed(None, a) == {"n", "name", "serial"}
    assert schema.changed(a, a) == frozenset()
    assert schema.changed(a, a.copy(n=4, serial=1)) == {"n", "serial"}


def test_a_preset_is_shown_while_the_state_is_its_own(schema):
    assert schema.preset_of(schema.preset_state("big")) == "big"
    # a field no link carries does not make it another scenario
    assert schema.preset_of(schema.preset_state("big").copy(serial=3)) == "big"
    assert schema.preset_of(schema.preset_state("big").copy(name="z")) == ""


def test_the_rbm_url_codec_round_trips_every_preset():
    for key in SCHEMA.presets:
        st = SCHEMA.preset_state(key)
        assert SCHEMA.from_query(SCHEMA.to_query(st)) == (st, [])


@pytest.fixture
def app():
    return RBMExplorer(run_ais=False, prefetch=False)


def _record(app, key):
    calls = []
    panel = app.panels[key]
    render = panel.render

    def recording(view, state, changed):
        calls.append(set(changed))
        render(view, state, changed)
    panel.render = recording
    return calls


def test_a_panel_renders_only_what_it_reads_changed(app):
    app.open_panel("cumulants")
    cumulants = _record(app, "cumulants")
    core = _record(app, "free_energy")
    app.w_show["tap2"].value = False           # the cumulants do not read the curves shown
    assert cumulants == [] and core == [{"show"}]
    app.w_temperature.value = 2.0
    assert cumulants == [{"T"}] and core[-1] == {"T"}
    app.w_order.value = 6
    assert cumulants[-1] == {"order"}


def test_a_hidden_tab_catches_up_by_the_difference(app):
    app.open_panel("units")
    units = _record(app, "units")
    app.w_tabs.selected_index = 0               # the guide: the Units tab is hidden
    app.w_temperature.value = 0.5
    app.w_order.value = 3
    app.w_temperature.value = 0.8
    assert units == []                          # nothing rendered while hidden
    app.open_panel("units")
    assert units == [{"T", "order"}]
    assert app.panels["units"].rendered == app.shown


def test_a_new_uploaded_model_is_a_new_state(app):
    rng = np.random.default_rng(3)
    buf = io.BytesIO()
    np.savez(buf, weights=rng.normal(0, 0.5, (5, 4)), visible_bias=np.zeros(5), hidden_bias=np.zeros(4))
    core = _record(app, "free_energy")
    for serial in (1, 2):                       # the same file twice: two models, each drawn
        app.w_upload.value = ({"name": "m.npz", "type": "application/octet-stream",
                               "size": len(buf.getvalue()), "content": memoryview(buf.getvalue()),
                               "last_modified": datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)},)
        assert (app.state.model, app.state.model_id) == ("upload", serial)
        assert "model_id" in core[-1] and len(core) == serial
    assert app.query_from_state(app.state) == app.query_from_state(app.state.copy(model_id=0))


def test_controls_are_built_from_the_field_declarations():
    import ipywidgets as W

    from explorer.app.core.controls import build_control
    from explorer.app.vae.state import K_GRID, SCALE_GRID
    from explorer.app.vae.state import SCHEMA as VAE_SCHEMA

    t = build_control(SCHEMA.fields["T"])
    assert isinstance(t, W.FloatLogSlider) and (t.base, t.min, t.max, t.step) == (10, -1.0, 1.0, 0.01)
    assert t.description == "Temperature T" and t.continuous_update and "explorer-temperature" in t._dom_classes
    lam = build_control(SCHEMA.fields["lam"])
    assert isinstance(lam, W.FloatSlider) and not lam.continuous_update and (lam.min, lam.max) == (0.0, 2.0)
    ref = build_control(SCHEMA.fields["ref"])
    assert isinstance(ref, W.Dropdown) and ref.value == "mean-field"
    k = build_control(VAE_SCHEMA.fields["K"])
    assert isinstance(k, W.SelectionSlider) and list(k.options) == [int(v) for v in K_GRID.values] and k.value == 100
    c = build_control(VAE_SCHEMA.fields["scale"])
    assert isinstance(c, W.FloatLogSlider) and c.base == 2 and 2.0 ** c.min == SCALE_GRID[0]
    # every value a slider can reach is a point of its field's grid (no off-grid State)
    assert all(VAE_SCHEMA.fields["scale"].snapped(2.0 ** (c.min + i * c.step)) == SCALE_GRID[i]
               for i in range(SCALE_GRID.size))
    with pytest.raises(ValueError, match="declares no control"):
        build_control(SCHEMA.fields["model"])


def test_an_explorer_shows_a_state_on_its_declared_controls(app):
    st = SCHEMA.preset_state("strong-coupling")
    app.apply_state(st)
    assert abs(st.T - 0.5) < 0.01                # snapped to the temperature grid
    assert (app.w_temperature.value, app.w_order.value, app.w_reference.value) == (st.T, 8, "independent")
    assert app.w_norm.value == 8.0


def test_a_panel_renders_from_a_state_diff_without_an_explorer():
    """A tab's render needs the compute model, its view, the State and the changed fields: nothing else."""
    from explorer.app.rbm.compute import RBMCompute
    from explorer.app.rbm.explorer import render_cumulants, render_units
    from explorer.views.rbm.explorer import CumulantView, UnitView

    compute = RBMCompute(run_ais=False)
    units, cumulants = UnitView(), CumulantView(max_order=12)
    first = SCHEMA.default
    render_units(compute, units, first, SCHEMA.changed(None, first))
    render_cumulants(compute, cumulants, first, SCHEMA.changed(None, first))
    weights = units.sources["weights"].data["image"]
    mags = units.sources["magnetisation"].data
    assert np.allclose(mags["exact"], compute.point(first).magnetisations["exact"])
    hotter = first.copy(T=SCHEMA.fields["T"].snapped(2.0))
    changed = SCHEMA.changed(first, hotter)
    assert changed == {"T"}
    render_units(compute, units, hotter, changed)
    # a temperature step redraws the magnetisations, not the couplings (the same image object)
    assert units.sources["weights"].data["image"] is weights
    assert np.allclose(units.sources["magnetisation"].data["exact"], compute.point(hotter).magnetisations["exact"])
    render_cumulants(compute, cumulants, hotter, changed)
    kappa = compute.point(hotter).kappa
    assert np.allclose(cumulants.sources["kappa"].data["kappa"], kappa[:len(cumulants.sources["kappa"].data["n"])])


def test_controls_explain_their_terms_on_hover():
    """Every control that sets a term of the glossary shows its plain explanation as the label's hover
    text (the words a student meets on the controls are explained where they stand)."""
    from explorer.app.core.controls import build_control
    from explorer.app.rbm.state import SCHEMA as RBM
    from explorer.app.vae.state import SCHEMA as VAE
    from explorer.views.glossary import TERMS, plain_text

    explained = 0
    for schema in (RBM, VAE):
        for field in schema.fields.values():
            if field.control is None or not field.control.term:
                continue
            assert field.control.term in TERMS, field.name
            tip = build_control(field).tooltip
            assert plain_text(TERMS[field.control.term].plain) in tip and "<" not in tip, field.name
            explained += 1
    assert explained >= 9
