"""The documents inside the app (notebooks/doc.ipynb, explorer/app/docs.py) and the start page's
"Start here" path: every link works from Voila, offline, and none leaves the project."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from explorer.app import docs

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"


def _links(markdown):
    return re.findall(r"\]\(([^)]+)\)", markdown)


def _index():
    return "\n".join(c.source for c in nbformat.read(NOTEBOOKS / "index.ipynb", as_version=4).cells)


def test_doc_notebook_is_committed_without_outputs():
    nb = nbformat.read(NOTEBOOKS / "doc.ipynb", as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert len(code) == 1 and code[0].outputs == [] and code[0].execution_count is None
    assert "show_doc()" in code[0].source


@pytest.mark.parametrize("name", ["teaching", "physics"])
def test_every_link_of_a_document_works_inside_the_app(name):
    assert name in docs.available()
    html = docs.doc_html(name)
    ids = set(re.findall(r"id='([^']+)'", html))
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert hrefs
    for href in hrefs:
        assert not re.match(r"^[a-z]+:|^//|^/", href), href          # nothing outside the app
        path, _, anchor = href.partition("#")
        if not path:
            assert anchor in ids, href                             # a section of this document
            continue
        target, _, query = path.partition("?")
        assert (NOTEBOOKS / target).is_file(), href                # a notebook the app serves
        if target == "doc.ipynb" and query:
            assert query.removeprefix("name=") in docs.available(), href


def test_a_document_renders_whole():
    html = docs.doc_html("physics")
    assert "<h1 id='the-physics-conventions-and-every-formula-the-explorer-computes'>" in html
    assert html.count("<table>") >= 1 and "|---" not in html        # the dictionary is a table
    assert "Signs that differ from the essay" in html


def test_unknown_or_hostile_names_show_the_list():
    md = docs.doc_markdown("<script>alert(1)</script>")
    assert "<script>" not in md and "No such document" in md and "doc.ipynb?name=physics" in md
    assert "no document called “nope”" in docs.doc_markdown("nope")
    assert docs.requested_name("name=physics&theme=dark") == "physics"
    assert docs.requested_name("theme=dark") is None


def test_links_outside_the_project_become_words():
    out = docs.rewrite_links("[Z2JH](https://z2jh.jupyter.org) [code](../explorer/app/docs.py) "
                             "[plan](teaching.md#a-50-minute-class-minute-by-minute) "
                             "[l1](../notebooks/lessons/x.ipynb)", {"teaching"})
    assert out == ("Z2JH code [plan](doc.ipynb?name=teaching#a-50-minute-class-minute-by-minute) "
                   "[l1](lessons/x.ipynb)")


def test_installed_copy_is_found_without_the_repository(tmp_path, monkeypatch):
    (tmp_path / "physics.md").write_text("# The physics\n", encoding="utf-8")
    monkeypatch.setattr(docs, "DOC_DIRS", (tmp_path / "absent", tmp_path))
    assert docs.available() == ["physics"] and "<h1 id='the-physics'>" in docs.doc_html("physics")
    monkeypatch.setattr(docs, "DOC_DIRS", (tmp_path / "absent",))
    assert "no `docs/` folder" in docs.doc_markdown("physics")


def test_pyproject_installs_the_documents():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"share/free-energy-explorer/docs" = ["docs/*.md"]' in text
    assert "COPY docs ./docs" in (ROOT / "deploy" / "k8s" / "Dockerfile").read_text(encoding="utf-8")


# ------------------------------------------------------------------ the start page
def test_start_page_has_one_start_here_path_from_lesson_1():
    text = _index()
    start = text.split("## Start here", 1)[1].split("\n## ", 1)[0]
    steps = re.findall(r"^\d\. (.*)$", start, re.M)
    assert len(steps) >= 4
    assert "lessons/lesson_1_free_energy_and_bound.ipynb" in steps[0]
    assert "rbm_explorer.ipynb" in steps[1]
    order = [re.search(r"lesson_(\d)", s).group(1) for s in steps if re.search(r"lesson_(\d)", s)]
    assert order == sorted(order) == ["1", "2", "3", "4"]
    assert text.count("## Start here") == 1


def test_start_page_names_what_it_refers_to_and_links_the_documents():
    text = _index()
    # "the essay" is named where it is first mentioned
    first = text.index("essay")
    assert "Free Energies and Variational Inference" in text[max(0, first - 300):first + 300]
    links = _links(text)
    assert "doc.ipynb?name=teaching" in links and "doc.ipynb?name=physics" in links
    # no bare file names of the repository where a link would be expected
    assert "`docs/teaching.md`" not in text and "`docs/physics.md`" not in text
    for link in links:
        assert not re.match(r"^[a-z]+:|^//", link), link                # never outside the project
        assert (NOTEBOOKS / link.split("?")[0].split("#")[0]).is_file(), link


@pytest.mark.slow
def test_doc_notebook_executes(monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("QUERY_STRING", "name=physics")
    nb = nbformat.read(NOTEBOOKS / "doc.ipynb", as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    html = [m["state"].get("value", "") for m in state.values()
            if "explorer-doc-page" in m["state"].get("_dom_classes", [])]
    assert html and "The physics: conventions" in html[0]
