"""The explorer under random sequences of widget actions (issue 7: robustness).

Whatever a student clicks, in whatever order: no exception reaches the page, no NaN or inf
is ever sent to a plot, an error shows a message and keeps the last good plots, and the
explorer recovers (Reset gives back exactly the default view).
"""

import datetime
import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer.app import RBMExplorer
from explorer.app.rbm import compute as appmod
from explorer.app.rbm.state import LAM_GRID, PRESETS, T_GRID
from tests.app.test_app_controller import assert_all_finite, same, snapshot


def _npz(**arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


GOOD = _npz(weights=np.ones((3, 2)), visible_bias=np.zeros(3), hidden_bias=np.zeros(2))
UPLOADS = {
    "good": GOOD,
    "missing key": _npz(weights=np.ones((3, 2))),
    "nan": _npz(weights=np.full((3, 2), np.nan), visible_bias=np.zeros(3), hidden_bias=np.zeros(2)),
    "not a zip": b"garbage",
    "too large": b"\0" * (appmod.MAX_UPLOAD_BYTES + 1),
}


@pytest.fixture(scope="module")
def app():
    return RBMExplorer(query="", page_url="http://127.0.0.1:8866/voila/render/rbm_explorer.ipynb",
                       run_ais=False)


_DEFAULT = {}


def _default_view(app):
    """The default view's sources (kept out of the test's arguments: hypothesis prints those)."""
    if not _DEFAULT:
        app.reset()
        _DEFAULT["view"] = snapshot(app)
    return _DEFAULT["view"]


def _upload(app, content):
    app.w_upload.value = ({"name": "student.npz", "type": "application/octet-stream",
                           "size": len(content), "content": memoryview(content),
                           "last_modified": datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)},)


actions = st.one_of(
    st.tuples(st.just("temperature"), st.sampled_from(list(T_GRID[[0, 1, 50, 100, -2, -1]]))),
    st.tuples(st.just("norm"), st.sampled_from([0.0, 0.1, 2.5, 12.0])),
    st.tuples(st.just("lam"), st.sampled_from(list(LAM_GRID[[0, 10, -1]]))),
    st.tuples(st.just("order"), st.integers(1, 12)),
    st.tuples(st.just("reference"), st.sampled_from(["mean-field", "independent"])),
    st.tuples(st.just("size"), st.tuples(st.sampled_from([1, 3, 6, 30]), st.sampled_from([1, 4, 30]))),
    st.tuples(st.just("seed"), st.integers(-5, 10**6)),   # negative: refused with a message
    st.tuples(st.just("model"), st.sampled_from(["random", "bars-stripes", "upload"])),
    st.tuples(st.just("upload"), st.sampled_from(sorted(UPLOADS))),
    st.tuples(st.just("preset"), st.sampled_from(sorted(PRESETS))),
    st.tuples(st.just("show"), st.tuples(st.sampled_from(["exact", "mean_field", "tap2", "tap3", "series"]),
                                         st.booleans())),
    st.tuples(st.just("reset"), st.none()),
)


def _apply(app, action, value):
    if action == "temperature":
        app.w_temperature.value = float(value)
    elif action == "norm":
        app.w_norm.value = value
    elif action == "lam":
        app.w_lam.value = float(value)
    elif action == "order":
        app.w_order.value = value
    elif action == "reference":
        app.w_reference.value = value
    elif action == "size":
        with app._batch():
            app.w_nv.value, app.w_nh.value = value
    elif action == "seed":
        app.w_seed.value = value
    elif action == "model":
        app.w_model.value = value
    elif action == "upload":
        _upload(app, UPLOADS[value])
    elif action == "preset":
        app.w_preset.value = value
    elif action == "show":
        app.w_show[value[0]].value = value[1]
    else:
        app.reset()


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(sequence=st.lists(actions, min_size=1, max_size=7))
def test_random_action_sequences_never_break_the_page(app, sequence):
    default_view = _default_view(app)
    for action, value in sequence:
        before = snapshot(app)
        _apply(app, action, value)            # must not raise into the page
        assert_all_finite(app)
        message = app.w_message.value
        if "explorer-error" in message and action in ("upload", "size"):
            # a refused model keeps the last good plots
            assert same(before, snapshot(app)), (action, value, message)
    app.reset()
    assert "explorer-error" not in app.w_message.value
    assert same(default_view, snapshot(app))


def test_oversized_upload_is_refused_with_a_message(app):
    app.reset()
    before = snapshot(app)
    _upload(app, UPLOADS["too large"])
    assert "explorer-error" in app.w_message.value and "limited to" in app.w_message.value
    assert same(before, snapshot(app))
    app.reset()
