"""Pooled kernels start one per interval; kernels for pages being served are never held back."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from datetime import UTC
from pathlib import Path

import pytest
from jupyter_client.multikernelmanager import MultiKernelManager
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from traitlets import TraitError
from traitlets.config import Config

from explorer.serving.kernel_pacing import PacedKernelManager, is_pool_start

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("kwargs, expected", [
    ({"env": {"VOILA_PREHEAT": "True"}}, True),
    ({"env": {"VOILA_PREHEAT": "true"}}, True),
    ({"env": {"VOILA_PREHEAT": "False"}}, False),
    ({"env": {}}, False),
    ({"env": None}, False),
    ({}, False),
])
def test_pool_starts_are_recognised_by_voilas_env_mark(kwargs, expected):
    assert is_pool_start(kwargs) is expected


@pytest.fixture
def started(monkeypatch):
    """Replace the real kernel start with a recorder of (kind, monotonic time)."""
    log = []

    async def fake_start(self, *args, **kwargs):
        log.append(("pool" if is_pool_start(kwargs) else "page", time.monotonic()))
        return f"kernel-{len(log)}"

    monkeypatch.setattr(AsyncMappingKernelManager, "start_kernel", fake_start)
    return log


def manager(interval):
    return PacedKernelManager(config=Config({"PacedKernelManager": {"pool_start_interval": interval}}))


def test_pool_kernels_start_an_interval_apart_and_pages_at_once(started):
    km = manager(0.25)

    async def scenario():
        t0 = time.monotonic()
        pool = [asyncio.create_task(km.start_kernel(env={"VOILA_PREHEAT": "True"})) for _ in range(4)]
        await asyncio.sleep(0.05)
        page_id = await km.start_kernel(env={"VOILA_PREHEAT": "False"})
        page_at = time.monotonic() - t0
        ids = await asyncio.gather(*pool)
        return t0, page_id, page_at, ids

    t0, page_id, page_at, ids = asyncio.run(scenario())
    assert len(set(ids + [page_id])) == 5
    # the page's kernel did not wait behind the three pool kernels still queued
    assert page_at < 0.2
    pool_times = [t - t0 for kind, t in started if kind == "pool"]
    assert len(pool_times) == 4
    gaps = [b - a for a, b in zip(pool_times, pool_times[1:])]
    assert all(g >= 0.2 for g in gaps), gaps
    assert pool_times[0] < 0.1     # the first one is not delayed


def test_no_pacing_when_the_interval_is_zero(started):
    km = manager(0.0)

    async def scenario():
        await asyncio.gather(*(km.start_kernel(env={"VOILA_PREHEAT": "True"}) for _ in range(5)))

    t0 = time.monotonic()
    asyncio.run(scenario())
    assert time.monotonic() - t0 < 0.2 and len(started) == 5


def test_a_pause_longer_than_the_interval_lets_the_next_pool_kernel_start_at_once(started):
    km = manager(0.2)

    async def scenario():
        await km.start_kernel(env={"VOILA_PREHEAT": "True"})
        await asyncio.sleep(0.3)
        t = time.monotonic()
        await km.start_kernel(env={"VOILA_PREHEAT": "True"})
        return time.monotonic() - t

    assert asyncio.run(scenario()) < 0.1


def test_the_server_imports_the_manager_without_the_app():
    """The Voila server loads this class at start: it must not drag in the explorer's app
    (numpy, scipy, Bokeh, ipywidgets), which only kernels need."""
    probe = ("import json, sys, explorer.serving.kernel_pacing\n"
             "print(json.dumps([m for m in ('explorer.app', 'numpy', 'scipy', 'bokeh', 'ipywidgets')"
             " if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_voila_json_uses_the_paced_manager():
    conf = json.loads((ROOT / "voila.json").read_text())
    name = conf["VoilaConfiguration"]["multi_kernel_manager_class"]
    assert name == "explorer.serving.kernel_pacing.PacedKernelManager"
    assert issubclass(PacedKernelManager, MultiKernelManager)
    assert conf["PacedKernelManager"]["pool_start_interval"] > 0


def test_culling_skips_a_kernel_that_is_still_starting(monkeypatch):
    """A kernel without ``last_activity`` yet is left alone (no traceback in the server log);
    one that has it goes through jupyter_server's normal idle check."""
    from datetime import datetime

    from jupyter_server.services.kernels.kernelmanager import ServerKernelManager

    checked = []

    async def parent_check(self, kernel_id):
        checked.append(kernel_id)

    monkeypatch.setattr(AsyncMappingKernelManager, "cull_kernel_if_idle", parent_check)
    km = manager(1.0)
    starting, running = ServerKernelManager(), ServerKernelManager()
    running.last_activity = datetime.now(UTC)
    km._kernels["starting"], km._kernels["running"] = starting, running
    with pytest.raises(TraitError):
        _ = starting.last_activity   # what jupyter_server's own check tripped over
    asyncio.run(km.cull_kernel_if_idle("starting"))
    asyncio.run(km.cull_kernel_if_idle("running"))
    assert checked == ["running"]
