"""Preheated Voila kernels (explorer.serving.preheat, explorer.app.core.request): an explorer built
for the default view and then handed the request's URL must show exactly what one built from that URL shows."""

from __future__ import annotations

import os

import pytest
from jupyter_bokeh.widgets import BokehModel

from explorer.app.core import request
from explorer.app.rbm import compute as appmod
from explorer.app.rbm.explorer import RBMExplorer
from explorer.serving import preheat

from .views_compare import assert_same_sources

PAGE = "http://127.0.0.1:8866/voila/render/rbm_explorer.ipynb"
QUERY = "T=0.5&norm=3&order=6&ref=independent&seed=2&nv=6&nh=7&teacher=1&hide=order&theme=dark"


def current_documents(bundle):
    """The serialised documents of a render bundle without their random document ids."""
    return list(bundle["docs_json"].values())


def test_adopted_request_equals_a_view_built_from_it():
    direct = RBMExplorer(query=QUERY, page_url=PAGE, run_ais=False)
    pooled = RBMExplorer(query="", page_url="", run_ais=False)
    pooled.adopt_request(QUERY, PAGE + "?old=1")
    assert pooled.state == direct.state
    assert pooled.classroom == direct.classroom
    assert pooled.w_link.value == direct.w_link.value
    assert PAGE + "?" in pooled.w_link.value and "old=1" not in pooled.w_link.value
    assert pooled.w_order.layout.display == "none"
    core = pooled.panels["free_energy"]
    assert core.view.layout.document.theme is not None          # dark theme
    assert_same_sources(pooled, direct, rtol=1e-12)
    # Changes made before the page connects are not sent to it: the widget's render bundle
    # must be the current document, not the one serialised at build time.
    assert current_documents(core.bokeh.render_bundle) == current_documents(
        BokehModel._model_to_traits(core.view.layout))


def test_warm_up_computes_what_the_idle_prefetch_would(monkeypatch):
    """A pooled kernel's warm-up leaves nothing for after the request: the neighbouring
    temperatures of the default view are computed (and equal to a fresh computation)."""
    pooled = RBMExplorer(query="", page_url="", run_ais=False)
    _token, todo, _work = pooled.prefetch_plan(pooled.state)
    assert todo
    pooled.warm_up()
    calls = []
    monkeypatch.setattr(appmod, "point_quantities", lambda *a, **k: calls.append(a))
    for t in todo:
        pooled.compute.point(pooled.state.copy(T=float(t)))
    assert calls == []                                              # all cached by the warm-up


def test_adopting_an_empty_query_keeps_the_default_view():
    pooled = RBMExplorer(query="", page_url="", run_ais=False)
    bundle = pooled.panels["free_energy"].bokeh.render_bundle
    before = pooled.state
    pooled.adopt_request("", PAGE)
    assert pooled.state == before
    assert pooled.panels["free_energy"].bokeh.render_bundle is bundle                     # nothing re-serialised
    assert PAGE in pooled.w_link.value


def test_bad_query_in_a_request_is_reported_like_at_build():
    direct = RBMExplorer(query="T=abc&order=5", page_url=PAGE, run_ais=False)
    pooled = RBMExplorer(query="", page_url="", run_ais=False)
    pooled.adopt_request("T=abc&order=5", PAGE)
    assert pooled.state == direct.state
    assert pooled.w_message.value == direct.w_message.value != ""


class _Recorder:
    """A stand-in explorer that records how it was built and used."""

    log = []

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.priority = os.getpriority(os.PRIO_PROCESS, 0)
        _Recorder.log.append(("build", kwargs))

    def warm_up(self):
        _Recorder.log.append(("warm_up", os.getpriority(os.PRIO_PROCESS, 0)))

    def adopt_request(self, query, page_url):
        _Recorder.log.append(("adopt", query, page_url))

    def show(self):
        _Recorder.log.append(("show",))
        return self


def test_outside_a_pool_the_explorer_is_built_from_the_request(monkeypatch):
    monkeypatch.delenv("VOILA_PREHEAT", raising=False)
    monkeypatch.setattr(request, "wait_for_page_request", lambda: pytest.fail("must not wait"))
    _Recorder.log = []
    request.show_when_requested(_Recorder, run_ais=False)
    assert _Recorder.log == [("build", {"run_ais": False}), ("show",)]


def test_in_a_pool_build_first_at_low_priority_then_wait_then_adopt(monkeypatch):
    monkeypatch.setenv("VOILA_PREHEAT", "True")
    waited = []

    def fake_wait():
        waited.append(os.getpriority(os.PRIO_PROCESS, 0))
        return "T=0.5", "http://h:1/voila/render/x.ipynb"

    monkeypatch.setattr(request, "wait_for_page_request", fake_wait)
    _Recorder.log = []
    start = os.getpriority(os.PRIO_PROCESS, 0)
    app = request.show_when_requested(_Recorder, run_ais=False)
    warm = [entry for entry in _Recorder.log if entry[0] == "warm_up"]
    assert [entry for entry in _Recorder.log if entry[0] != "warm_up"] == [
        ("build", {"query": "", "page_url": "", "run_ais": False}),
        ("adopt", "T=0.5", "http://h:1/voila/render/x.ipynb"), ("show",)]
    assert _Recorder.log.index(warm[0]) == 1                        # idle work done before the wait
    assert os.getpriority(os.PRIO_PROCESS, 0) == start              # restored before serving
    if preheat._can_restore_priority(start):
        assert app.priority == preheat.WARM_UP_NICENESS             # the warm-up ran niced
        assert warm == [("warm_up", preheat.WARM_UP_NICENESS)]
        assert waited == [preheat.WARM_UP_NICENESS]                 # ... and so did the wait


def test_an_explicit_query_is_not_replaced_by_the_request(monkeypatch):
    monkeypatch.setenv("VOILA_PREHEAT", "True")
    monkeypatch.setattr(request, "wait_for_page_request", lambda: pytest.fail("must not wait"))
    _Recorder.log = []
    request.show_when_requested(_Recorder, query="T=2")
    assert _Recorder.log == [("build", {"query": "T=2"}), ("show",)]


def test_page_base_drops_query_and_fragment():
    assert preheat.page_base("http://h:1/a/b.ipynb?x=1#f") == "http://h:1/a/b.ipynb"
    assert preheat.page_base("") is None and preheat.page_base("http://h:1") is None


def test_request_page_url_is_rebuilt_from_the_request(monkeypatch):
    monkeypatch.setattr(preheat, "wait_for_request", lambda: None)
    monkeypatch.setenv("QUERY_STRING", "T=2")
    monkeypatch.setenv("SERVER_NAME", "127.0.0.1")
    monkeypatch.setenv("SERVER_PORT", "8866")
    monkeypatch.setenv("SCRIPT_NAME", "/voila/render/rbm_explorer.ipynb")
    monkeypatch.setenv("VOILA_REQUEST_URL", "http://stale:1/other.ipynb")
    assert preheat.wait_for_page_request() == ("T=2", PAGE)


def test_vae_explorer_adopts_a_request_like_it_builds_from_one():
    pytest.importorskip("torch")
    from explorer.app.vae.explorer import VAEExplorer
    from explorer.vae import VAESession

    session = VAESession()
    page = "http://127.0.0.1:8866/voila/render/vae_explorer.ipynb"
    query = "index=5&T=0.5&lam=0.5&order=6&teacher=1&hide=samples&theme=dark"
    direct = VAEExplorer(query=query, page_url=page, session=session)
    pooled = VAEExplorer(query="", page_url="", session=session)
    pooled.adopt_request(query, page)
    assert pooled.state == direct.state
    assert pooled.classroom == direct.classroom
    assert pooled.w_link.value == direct.w_link.value and page + "?" in pooled.w_link.value
    assert pooled.w_samples.layout.display == "none"
    assert_same_sources(pooled, direct, rtol=1e-12)
    core = pooled.panels["posterior_lambda"]
    assert core.view.layout.document.theme is not None          # dark theme
    assert current_documents(core.bokeh.render_bundle) == current_documents(
        BokehModel._model_to_traits(core.view.layout))


def test_importing_the_app_in_a_pooled_kernel_lowers_priority_until_the_request(tmp_path):
    """A fresh interpreter as Voila's pool starts it: explorer.app's import already runs niced."""
    import subprocess
    import sys

    # the warm-up starts the physics layer's worker threads (they inherit the low priority);
    # after the request every thread of the kernel must be back at the normal priority
    code = ("import os; import numpy as np; import explorer.app; from explorer.serving import preheat; "
            "import explorer.rbm.exact as ex; ex._THREAD_MIN_ELEMENTS = 0; ex._BLOCK_ELEMENTS = 64; "
            "from explorer.rbm import RBM; ex.exact_batch(RBM.random(8, 6, seed=0), np.ones(2)); "
            "print(os.getpriority(os.PRIO_PROCESS, 0), preheat._saved_priority); "
            "preheat.leave_background(); "
            "print(max(os.getpriority(os.PRIO_PROCESS, int(t)) for t in os.listdir('/proc/self/task')), "
            "len(os.listdir('/proc/self/task')) > 1)")
    env = {**os.environ, "VOILA_PREHEAT": "True"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120, check=True).stdout.split()
    start = os.getpriority(os.PRIO_PROCESS, 0)
    if not preheat._can_restore_priority(start):
        pytest.skip("this process may not raise its priority again: nothing is lowered")
    assert out == [str(preheat.WARM_UP_NICENESS), str(start), str(start), "True"]


def test_the_request_arrives_over_voilas_websocket(monkeypatch):
    """The waiter speaks Voila's protocol: one JSON message on /voila/query/<kernel id>."""
    import json as _json
    import threading

    from websockets.sync.server import serve

    payload = {"QUERY_STRING": "T=0.5&order=6", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8866",
               "SCRIPT_NAME": "/voila/render/rbm_explorer.ipynb"}
    paths = []

    def handler(ws):
        paths.append(ws.request.path)
        ws.send(_json.dumps(payload))

    with serve(handler, "127.0.0.1", 0) as server:
        port = server.socket.getsockname()[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        monkeypatch.setenv("VOILA_KERNEL_ID", "abc-123")
        monkeypatch.setenv("VOILA_APP_PORT", str(port))
        monkeypatch.setenv("VOILA_SERVER_URL", "/base/")
        for key in payload:
            # set (then undone by monkeypatch), not deleted: wait_for_page_request writes the
            # request into os.environ, and a key monkeypatch never saw would leak into later tests
            monkeypatch.setenv(key, "")
        assert preheat.wait_for_page_request() == ("T=0.5&order=6", PAGE)
        server.shutdown()
    assert paths == ["/base/voila/query/abc-123"]


def test_without_a_voila_server_the_default_view_is_kept(monkeypatch):
    import socket

    with socket.socket() as s:          # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("VOILA_KERNEL_ID", "abc-123")
    monkeypatch.setenv("VOILA_APP_PORT", str(port))
    monkeypatch.delenv("QUERY_STRING", raising=False)
    monkeypatch.delenv("SERVER_NAME", raising=False)
    assert preheat.wait_for_page_request() == ("", "")


def test_outside_voila_there_is_nothing_to_wait_for(monkeypatch):
    monkeypatch.delenv("VOILA_KERNEL_ID", raising=False)
    preheat.wait_for_request()          # returns at once
