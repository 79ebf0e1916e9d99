"""environment.yml (conda/Binder) and pyproject.toml list the same packages."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names that differ from PyPI names
CONDA_TO_PYPI = {"pytorch": "torch"}
NOT_PACKAGES = {"python", "pip"}
# Extras that environment.yml (Binder: the app and its tests) does not need: the hub is served by
# `make hub` or the Kubernetes image (deploy/), which install it themselves.
NOT_ON_BINDER = {"hub"}


def _name(requirement):
    return re.split(r"[<>=!~ \[;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject_packages():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    reqs = list(data["project"]["dependencies"])
    for name, extra in data["project"].get("optional-dependencies", {}).items():
        if name not in NOT_ON_BINDER:
            reqs += extra
    return {_name(r) for r in reqs}


def _environment_packages():
    names, in_deps = set(), False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if re.match(r"^\S", line):
            in_deps = line.startswith("dependencies:")
        m = re.match(r"^\s{2}-\s+([A-Za-z0-9_.\-]+)", line)  # top-level conda entries only
        if in_deps and m:
            name = _name(m.group(1))
            if name not in NOT_PACKAGES:
                names.add(CONDA_TO_PYPI.get(name, name))
    return names


def test_environment_and_pyproject_agree():
    py, env = _pyproject_packages(), _environment_packages()
    assert py == env, f"only in pyproject: {sorted(py - env)}; only in environment.yml: {sorted(env - py)}"


def test_parser_sees_the_packages():
    """Guard against a test that cannot fail: both lists are non-trivial and contain the core."""
    py = _pyproject_packages()
    assert {"numpy", "scipy", "torch", "bokeh", "voila", "pytest", "hypothesis"} <= py


def test_local_setup_pins_cpu_torch():
    """This machine's set-up must never pull the 5 GB CUDA torch: constraints pin the CPU build."""
    constraints = (ROOT / "constraints.txt").read_text()
    assert re.search(r"^torch==2\.13\.0$", constraints, re.M)
    makefile = (ROOT / "Makefile").read_text()
    assert "-c constraints.txt" in makefile
