"""The project's documents (docs/*.md) rendered inside the app: notebooks/doc.ipynb?name=physics.

Voila serves notebooks, not the repository's ``docs/`` folder, so the start page and the lessons
link to ``doc.ipynb?name=NAME``, whose one cell calls :func:`show_doc`: it reads ``docs/NAME.md``
(from the repository, or from the copy ``pip install`` puts under
``<prefix>/share/free-energy-explorer/docs``) and displays it as Markdown, with its links made to
work in the app, offline:

* another document (``physics.md``, ``classroom.md#a-section``) -> ``doc.ipynb?name=physics`` (and the
  section's anchor as JupyterLab names headings);
* a notebook (``../notebooks/lessons/...ipynb``) -> that notebook, relative to ``doc.ipynb``;
* a section of the same document (``#signs-that-differ-from-the-essay``) -> its JupyterLab anchor;
* anything else (a file of the repository the app does not serve, an address outside the project)
  -> its text only: the app never links outside its own pages.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from urllib.parse import parse_qs

#: Where the documents are: the repository's docs/ folder, else the copy pip installs (pyproject.toml).
DOC_DIRS = (Path(__file__).resolve().parents[2] / "docs",
            Path(sys.prefix) / "share" / "free-energy-explorer" / "docs")
#: The documents a student or teacher opens from the start page first (the index lists these first).
MAIN_DOCS = {"teaching": "Teaching with the explorer: four lessons and a 50-minute class",
             "physics": "The physics: conventions and every formula the explorer computes"}

_LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def docs_dir():
    """The first folder of :data:`DOC_DIRS` that holds the documents (None: this copy has none)."""
    for d in DOC_DIRS:
        if (d / "physics.md").is_file():
            return d
    return None


def available():
    """The names of the documents that can be shown (``physics``, ``teaching``, ...)."""
    d = docs_dir()
    return [] if d is None else sorted(p.stem for p in d.glob("*.md") if _NAME.match(p.stem))


def github_slug(heading):
    """The anchor GitHub gives a heading (what the documents' ``#...`` links use)."""
    text = re.sub(r"[`*_]", "", heading).strip().lower()
    return re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", text))


def lab_anchor(heading):
    """The id JupyterLab's Markdown renderer gives a heading: its text, spaces as hyphens."""
    return re.sub(r"[`*]", "", heading).strip().replace(" ", "-")


def _anchors(text):
    """GitHub anchor -> JupyterLab anchor for every heading of ``text``."""
    return {github_slug(h): lab_anchor(h) for h in _HEADING.findall(text)}


def rewrite_links(text, names, anchors_of):
    """``text`` (Markdown of one document) with its links made to work from ``notebooks/doc.ipynb``.

    ``names``: the documents that can be shown; ``anchors_of(name)``: that document's anchor map.
    """
    own = anchors_of(None)

    def fix(m):
        bang, label, target = m.groups()
        if bang:                                   # an image: only its words
            return label
        path, _, anchor = target.partition("#")
        if not path:                               # a section of this document
            return f"[{label}](#{own.get(anchor, anchor)})" if anchor else label
        if re.match(r"^[a-z]+:", path) or path.startswith("//"):
            return label                           # outside the project: never linked
        stem = path[:-3] if path.endswith(".md") else None
        if stem is not None and "/" not in stem and stem in names:
            tail = f"#{anchors_of(stem).get(anchor, anchor)}" if anchor else ""
            return f"[{label}](doc.ipynb?name={stem}{tail})"
        if path.startswith("../notebooks/") and path.endswith(".ipynb"):
            return f"[{label}]({path[len('../notebooks/'):]}{'#' + anchor if anchor else ''})"
        return label                               # a file the app does not serve

    return _LINK.sub(fix, text)


def _nav(name):
    links = ["[← Start page](index.ipynb)"]
    links += [f"[{'**' + n + '**' if n == name else n}](doc.ipynb?name={n})" for n in MAIN_DOCS]
    links.append("[all documents](doc.ipynb)")
    return " · ".join(links)


def doc_markdown(name=None):
    """The Markdown :func:`show_doc` displays for document ``name`` (None: the list of documents)."""
    names = available()
    if not names:
        return (f"{_nav(None)}\n\n# Documents\n\nThis copy of the explorer has no `docs/` folder "
                "(neither the repository's nor an installed copy).")
    if name is None or name not in names:
        # the name is echoed only when it is a plain word (never markup from the address)
        head = ("" if name is None else
                f"There is no document called “{name}”.\n\n" if _NAME.match(name) else "No such document.\n\n")
        order = dict.fromkeys([*(n for n in MAIN_DOCS if n in names), *names])
        items = [f"- [{MAIN_DOCS.get(n, f'{n}.md')}](doc.ipynb?name={n})" for n in order]
        return f"{_nav(None)}\n\n# Documents\n\n{head}" + "\n".join(items)
    d = docs_dir()
    cache = {}

    def anchors_of(stem):
        stem = stem or name
        if stem not in cache:
            cache[stem] = _anchors((d / f"{stem}.md").read_text(encoding="utf-8"))
        return cache[stem]

    text = (d / f"{name}.md").read_text(encoding="utf-8")
    return f"{_nav(name)}\n\n" + rewrite_links(text, set(names), anchors_of)


def requested_name(query=None):
    """The ``name`` of the page's query (``?name=physics``), None without one."""
    q = os.environ.get("QUERY_STRING", "") if query is None else query
    values = parse_qs(q.lstrip("?")).get("name")
    return values[0] if values else None


def show_doc(name=None):
    """Display document ``name`` (default: the page's ``?name=``; none: the list of documents)."""
    from IPython.display import Markdown, display

    display(Markdown(doc_markdown(requested_name() if name is None else name)))


__all__ = ["available", "doc_markdown", "rewrite_links", "show_doc"]
