"""The shipped files are right on other CPUs: simulated here with numpy's NPY_DISABLE_CPU_FEATURES
(and OpenBLAS's OPENBLAS_CORETYPE), in subprocesses.

numpy chooses its float kernels by CPU (AVX-512, AVX2, SSE) and OpenBLAS its by core type; the
last bits of computed floats differ between machines. A machine other than the one that wrote
``explorer/data/`` must find the same keys (else its students silently get the slow first screen)
and its fresh numbers must pass the drift tests (tolerances scaled to the operands). Each
simulation turns off what this machine has above numpy's baseline; none is skipped in CI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: numpy's CPU feature groups beyond the x86-64-v2 baseline, highest first.
AVX512 = ("AVX512_SPR", "AVX512_ICL", "AVX512_SKX", "AVX512_CLX", "AVX512_CNL", "AVX512F", "X86_V4")
AVX2 = ("X86_V3", "AVX2", "FMA3")
#: The tests that read shipped files and compare them with fresh numbers, and that the first screens
#: come from them (no torch / scipy before the page shows).
SHIPPED_DATA_TESTS = ["tests/app/test_default_view.py", "tests/app/test_vae_default_view.py",
                      "tests/vae/test_vae_variational.py::test_shipped_split_gaps_are_what_the_physics_layer_computes"]


def _found_features():
    """numpy's dispatch targets this CPU supports (what ``numpy.show_runtime`` calls 'found')."""
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    return {f for f in __cpu_dispatch__ if __cpu_features__.get(f)}


def simulations():
    """``(name, environment)`` per CPU to simulate: without AVX-512, without AVX2 (and a BLAS core
    without AVX), each where this CPU has it."""
    found = _found_features()
    out = []
    if found & set(AVX512):
        out.append(("no-avx512", {"NPY_DISABLE_CPU_FEATURES": " ".join(f for f in AVX512 if f in found)}))
    if found & set(AVX2):
        off = [f for f in AVX512 + AVX2 if f in found]
        out.append(("no-avx2", {"NPY_DISABLE_CPU_FEATURES": " ".join(off), "OPENBLAS_CORETYPE": "Nehalem"}))
    return out


SIMULATIONS = simulations()


def _env(extra):
    env = dict(os.environ, **extra)
    # a cache of its own: numbers computed by this process's CPU must not stand in for fresh ones
    env["FREE_ENERGY_EXPLORER_CACHE"] = tempfile.mkdtemp(prefix="fee-other-cpu-")
    env.pop("PYTEST_ADDOPTS", None)
    return env


def _keys(extra):
    out = subprocess.run([sys.executable, "-m", "explorer.app.default_views", "--keys"], cwd=ROOT,
                         env=_env(extra), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


def test_this_machine_has_something_to_simulate():
    if not SIMULATIONS:
        pytest.skip("this CPU has nothing above numpy's baseline to turn off")
    assert all(env["NPY_DISABLE_CPU_FEATURES"] for _, env in SIMULATIONS)


@pytest.mark.parametrize("name, extra", SIMULATIONS, ids=[n for n, _ in SIMULATIONS])
def test_the_simulated_cpu_is_really_another(name, extra):
    """The switches take effect: numpy's exp runs another kernel there, OpenBLAS another core type."""
    code = ("import json, numpy as np, threadpoolctl\n"
            "info = np.lib.introspect.opt_func_info(func_name='exp', signature='float64')\n"
            "print(json.dumps({'exp': info['exp']['dd']['current'],\n"
            "  'blas': [i.get('architecture') for i in threadpoolctl.threadpool_info()]}))")
    here, there = (json.loads(subprocess.run([sys.executable, "-c", code], env=_env(e), capture_output=True,
                                              text=True, timeout=60, check=True).stdout) for e in ({}, extra))
    assert here["exp"] != there["exp"], f"{name}: numpy's exp kernel is {here['exp']} in both"
    for feature in extra["NPY_DISABLE_CPU_FEATURES"].split():
        assert feature not in there["exp"], f"{name}: numpy still dispatches exp to {feature}"
    if "OPENBLAS_CORETYPE" in extra:
        assert there["blas"] == [extra["OPENBLAS_CORETYPE"]], there


@pytest.mark.parametrize("name, extra", SIMULATIONS, ids=[n for n, _ in SIMULATIONS])
def test_the_shipped_files_keys_are_the_same_on_another_cpu(name, extra):
    assert _keys(extra) == _keys({})


@pytest.mark.parametrize("name, extra", SIMULATIONS, ids=[n for n, _ in SIMULATIONS])
def test_the_shipped_data_tests_pass_on_another_cpu(name, extra):
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *SHIPPED_DATA_TESTS],
                         cwd=ROOT, env=_env(extra), capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, f"{name}:\n{out.stdout[-4000:]}\n{out.stderr[-2000:]}"
