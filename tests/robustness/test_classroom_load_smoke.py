"""benchmarks/classroom_load.py stops by itself and leaves nothing running.

One tiny run (N = 2) must render, answer a slider move and report; a run whose overall timeout
strikes mid-way must exit on its own with status 2. After either, no process it started
(Voila, kernels, the Playwright driver, Chromium; found by an environment tag they inherit) may
still be alive. Loopback-only and size limits are checked without starting anything.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest

from harness.voila import chromium_path

ROOT = Path(__file__).resolve().parents[2]
# run as a module from the repository root, as the docs say: python -m benchmarks.classroom_load
SCRIPT = [sys.executable, "-m", "benchmarks.classroom_load"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def chromium():
    if chromium_path() is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("Chromium is missing but CI is set: the browser tests must run in CI")
        pytest.skip("Chromium not installed (/usr/bin/chromium)")


def _tagged(tag):
    alive = []
    for p in psutil.process_iter(["pid", "name"]):
        try:
            if p.environ().get("LOAD_TEST_TAG") == tag:
                alive.append(f"{p.pid} {p.name()}")
        except (psutil.Error, OSError):
            continue
    return alive


def _run(args, timeout):
    tag = uuid.uuid4().hex
    env = dict(os.environ, LOAD_TEST_TAG=tag)
    proc = subprocess.run([*SCRIPT, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)
    deadline = time.monotonic() + 10
    while _tagged(tag) and time.monotonic() < deadline:
        time.sleep(0.5)
    return proc, _tagged(tag)


def _json_line(stdout):
    return json.loads([ln for ln in stdout.splitlines() if ln.startswith("{")][-1])


def test_two_sessions_render_answer_slider_rounds_and_clean_up(chromium):
    # one run does it all (each run starts Voila, kernels and Chromium: ~20 s here)
    proc, leftovers = _run(["-n", "2", "--no-warmup", "--timeout", "150", "--slider-rounds", "3",
                            "--slider-every", "2"], timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = _json_line(proc.stdout)
    assert out["rendered"] == 2 and out["ok"] is True and out["updated"] == 2
    assert out["kernels"] >= 2 and 30 < out["kernel_rss_mb_median"] < 2000
    assert 0 < out["render_s_max"] < 150
    rounds = out["slider_rounds"]
    assert [r["round"] for r in rounds] == [0, 1, 2]
    # every page answered every round (right, left, right), a few seconds apart
    assert all(r["answered"] == r["pressed"] == 2 and 0 < r["median_ms"] < 30_000 for r in rounds)
    assert rounds[0]["t_s"] < rounds[1]["t_s"] < rounds[2]["t_s"]
    assert "round 2 at" in proc.stdout
    assert leftovers == []


def test_slider_rounds_over_the_websocket_without_a_browser():
    proc, leftovers = _run(["-n", "2", "--http-only", "--timeout", "120", "--slider-rounds", "3",
                            "--slider-every", "2"], timeout=150)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rounds = _json_line(proc.stdout)["slider_rounds"]
    assert [r["round"] for r in rounds] == [0, 1, 2]
    assert all(r["answered"] == r["pressed"] == 2 and 0 < r["median_ms"] < 30_000 for r in rounds)
    assert leftovers == []


def test_overall_timeout_stops_everything(chromium):
    # 10 s cannot render 3 pages here: the script must give up by itself and clean up
    t0 = time.monotonic()
    proc, leftovers = _run(["-n", "3", "--no-warmup", "--timeout", "10",
                            "--notebook", "notebooks/rbm_free_energies.ipynb"], timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert time.monotonic() - t0 < 45
    assert "timeout" in proc.stderr
    assert leftovers == []


@pytest.mark.parametrize("args", [["--url", "http://example.com:8866/"], ["--url", "http://10.0.0.1/"],
                                  ["-n", "61"], ["-n", "0"], ["--timeout", "100000"],
                                  ["--slider-rounds", "0"], ["--slider-rounds", "21"], ["--slider-every", "0"]])
def test_refuses_non_loopback_and_unbounded_runs(args):
    proc = subprocess.run([*SCRIPT, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2 and "error" in proc.stderr


def test_ctrl_c_stops_everything(chromium):
    tag = uuid.uuid4().hex
    env = dict(os.environ, LOAD_TEST_TAG=tag)
    proc = subprocess.Popen([*SCRIPT, "-n", "2", "--no-warmup", "--timeout", "120",
                             "--notebook", "notebooks/rbm_free_energies.ipynb"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # wait until Chromium and a kernel are running: the moment a class would be interrupted
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            names = " ".join(_tagged(tag))
            if "chrom" in names and names.count("python") >= 3:   # script, Voila, a kernel
                break
            time.sleep(0.3)
        else:
            pytest.fail(f"the run never got going: {_tagged(tag)}")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    deadline = time.monotonic() + 10
    while _tagged(tag) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _tagged(tag) == []
