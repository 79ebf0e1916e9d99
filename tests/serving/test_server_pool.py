"""explorer.serving.server_pool without a server: defaults, refilling, what counts as warm.

A server with these settings serving pooled pages to students through the hub is tested in
tests/browser/test_browser_hub.py (prestarted students get the preheated explorer).
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from explorer.serving import server_pool
from explorer.serving.server_pool import DEFAULT_POOLS, ServerPoolKernelManager


def test_a_students_pool_is_one_kernel_of_the_start_page_and_of_the_explorer_not_refilled():
    km = ServerPoolKernelManager()
    assert km.kernel_pools_config == DEFAULT_POOLS
    assert km.refill is False
    km.fill_if_needed(notebook_name="notebooks/rbm_explorer.ipynb")     # before start_pools: nothing
    assert km._pools == {}
    km._started = True
    km.fill_if_needed(notebook_name="notebooks/rbm_explorer.ipynb")     # taken, not refilled
    assert km._pools == {}


def test_a_pooled_kernel_is_warm_once_it_waits_for_its_request_or_has_run_its_notebook(monkeypatch):
    from voila.request_info_handler import RequestInfoSocketHandler

    async def check():
        loop = asyncio.get_running_loop()

        def pooled(kernel_id, rendered):
            render = loop.create_future()
            if rendered:
                render.set_result(None)
            task = loop.create_future()
            task.set_result({"kernel_id": kernel_id, "task": render, "renderer": None})
            return task, render

        km = ServerPoolKernelManager()
        waiting, _ = pooled("k-waiting", rendered=False)
        building, render = pooled("k-building", rendered=False)
        starting = loop.create_future()
        index, _ = pooled("k-index", rendered=True)
        km._pools = {"notebooks/rbm_explorer.ipynb": [waiting, building, starting], "notebooks/index.ipynb": [index]}
        monkeypatch.setattr(RequestInfoSocketHandler, "_waiters", {"k-waiting": object()})
        status = km.pool_status()
        render.set_result(None)
        starting.cancel()
        return status

    assert asyncio.run(check()) == {"notebooks/rbm_explorer.ipynb": {"size": 3, "warm": 1},
                                    "notebooks/index.ipynb": {"size": 1, "warm": 1}}


def test_the_request_socket_takes_the_servers_own_kernels_only():
    assert server_pool._is_loopback("127.0.0.1") and server_pool._is_loopback("::1")
    assert not server_pool._is_loopback("10.0.0.7") and not server_pool._is_loopback("")


def test_without_the_pooled_kernel_manager_the_extension_does_nothing():
    logged = []
    serverapp = SimpleNamespace(kernel_manager=object(), log=SimpleNamespace(info=lambda *a: logged.append(a)))
    server_pool._load_jupyter_server_extension(serverapp)      # no web_app needed: nothing is added
    assert logged and "no pool" in logged[0][0]


def test_a_request_before_the_pooled_kernel_has_started_waits_for_it(tmp_path):
    """Voila's page handler takes a pooled kernel only for a notebook it has data of: the data is
    recorded when the pool starts, not when its kernel has started (a second kernel otherwise)."""
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "rbm_explorer.ipynb").write_text("{}")
    (tmp_path / "notebooks" / "index.ipynb").write_text("{}")
    km = ServerPoolKernelManager(root_dir=str(tmp_path))
    filled = []
    km._fill = lambda **kwargs: filled.append(kwargs["notebook_name"])
    voila = SimpleNamespace(template="explorer", theme="light")
    asyncio.run(km.start_pools(voila, [], {}, wait_for_notebooks=0))
    assert filled == ["notebooks/rbm_explorer.ipynb", "notebooks/index.ipynb"]
    assert km.notebook_data["notebooks/rbm_explorer.ipynb"]["template"] == "explorer"
    assert km.notebook_data["notebooks/index.ipynb"]["theme"] == "light"
    asyncio.run(km.start_pools(voila, [], {}))          # once only
    assert len(filled) == 2
