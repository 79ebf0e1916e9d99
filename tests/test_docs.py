"""The repository is self-contained: no file points outside it, and the physics reference is inside.

A clone, a Binder image or a reader on GitHub has only the repository: conventions and formulas
live in docs/physics.md, and no text file may send the reader to a path outside the checkout.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Paths outside the repository that earlier versions pointed at (written in pieces, so that
#: this file does not match itself).
FORBIDDEN = ["../" + "shared", "shared/" + "PHYSICS.md", "shared/" + "STACK.md", "shared/" + "seed",
             "/" + "work/"]
BINARY = {".npz", ".pt", ".png", ".jpg", ".gif", ".ico", ".pdf", ".npy", ".whl", ".gz", ".zip"}
#: Markdown links and images: [text](target) — the target up to a space or the closing parenthesis.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)")


def repository_files():
    """Tracked files and new files not ignored (what a commit would hold); None without git."""
    try:
        out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                             cwd=ROOT, capture_output=True, check=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return [ROOT / p for p in out.decode().split("\0") if p and (ROOT / p).is_file()]


def text_files():
    files = repository_files()
    if files is None:
        pytest.skip("git is not available: cannot list the repository's files")
    out = []
    for path in files:
        if path.suffix.lower() in BINARY:
            continue
        try:
            out.append((path, path.read_text(encoding="utf-8")))
        except UnicodeDecodeError:
            continue
    return out


def markdown_texts(path, text):
    """The markdown of a file: the whole of a .md file, the markdown cells of a notebook."""
    if path.suffix == ".md":
        return [text]
    if path.suffix == ".ipynb":
        nb = nbformat.reads(text, as_version=4)
        return [c.source for c in nb.cells if c.cell_type == "markdown"]
    return []


def test_no_text_file_points_outside_the_repository():
    hits = [f"{path.relative_to(ROOT)}: {needle}" for path, text in text_files()
            for needle in FORBIDDEN if needle in text]
    assert not hits, hits


def test_relative_links_stay_inside_the_repository():
    outside, missing = [], []
    for path, text in text_files():
        for md in markdown_texts(path, text):
            for target in LINK.findall(md):
                if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith(("#", "/")):
                    continue    # a URL, an anchor, or a server path (Voila's /voila/render/...)
                resolved = (path.parent / target.split("#")[0].split("?")[0]).resolve()
                if ROOT not in resolved.parents and resolved != ROOT:
                    outside.append(f"{path.relative_to(ROOT)} -> {target}")
                elif not resolved.exists():
                    missing.append(f"{path.relative_to(ROOT)} -> {target}")
    assert not outside, outside
    assert not missing, missing


def test_the_physics_reference_is_in_the_repository_and_cited():
    physics = (ROOT / "docs" / "physics.md").read_text(encoding="utf-8")
    # the conventions every module relies on
    for formula in ("E(v, h) = -a·v - b·h - vᵀ W h", "F(T) = -T ln Z(T)", "F_q - F = T · KL(q ‖ p) ≥ 0",
                    "F_TAP2(m) = F_q(m) - (β/2) Σ_ij W_ij² var_i var_j", "H(z) = -ln p(x, z)",
                    "-ELBO = E_q[V] = E_q[H] - S[q] ≥ F", "λ* = min_{i: σ_i < 1} 1/(1 - σ_i²)"):
        assert formula in physics, formula
    assert "## References" in physics
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/physics.md" in readme
    # the modules that cite the conventions cite this file
    cited = [p for p in (ROOT / "explorer").rglob("*.py") if "docs/physics.md" in p.read_text(encoding="utf-8")]
    assert len(cited) >= 8
