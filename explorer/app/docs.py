"""The project's documents (docs/*.md) rendered inside the app: notebooks/doc.ipynb?name=physics.

Voila serves notebooks, not the repository's ``docs/`` folder, so the start page and the lessons
link to ``doc.ipynb?name=NAME``, whose one cell calls :func:`show_doc`: it reads ``docs/NAME.md``
(from the repository, or from the copy ``pip install`` puts under
``<prefix>/share/free-energy-explorer/docs``) and displays it as HTML, with its links made to
work in the app, offline:

* another document (``physics.md``, ``classroom.md#a-section``) -> ``doc.ipynb?name=physics`` (and the
  section's anchor: every heading gets the id GitHub would give it);
* a notebook (``../notebooks/lessons/...ipynb``) -> that notebook, relative to ``doc.ipynb``;
* a section of the same document (``#signs-that-differ-from-the-essay``) -> that heading;
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
    """The anchor GitHub gives a heading (what the documents' ``#...`` links use; :func:`doc_html`
    gives each heading the same id)."""
    text = re.sub(r"<[^>]+>|[`*_]", "", heading).strip().lower()
    return re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", text))


def rewrite_links(text, names):
    """``text`` (Markdown of one document) with its links made to work from ``notebooks/doc.ipynb``;
    ``names``: the documents that can be shown."""

    def fix(m):
        bang, label, target = m.groups()
        if bang:                                   # an image: only its words
            return label
        path, _, anchor = target.partition("#")
        tail = f"#{anchor}" if anchor else ""
        if not path:                               # a section of this document
            return f"[{label}]({tail})" if anchor else label
        if re.match(r"^[a-z]+:", path) or path.startswith("//"):
            return label                           # outside the project: never linked
        stem = path[:-3] if path.endswith(".md") else None
        if stem is not None and "/" not in stem and stem in names:
            return f"[{label}](doc.ipynb?name={stem}{tail})"
        if path.startswith("../notebooks/") and path.endswith(".ipynb"):
            return f"[{label}]({path[len('../notebooks/'):]}{tail})"
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
    text = (docs_dir() / f"{name}.md").read_text(encoding="utf-8")
    return f"{_nav(name)}\n\n" + rewrite_links(text, set(names))


def _table_code_pipes(text):
    """``|`` inside a code span of a table row escaped (``p(z|x)`` would end the cell)."""
    def row(line):
        if not line.lstrip().startswith("|"):
            return line
        return re.sub(r"`[^`]*`", lambda m: re.sub(r"(?<!\\)\|", r"\\|", m.group(0)), line)

    return "\n".join(row(line) for line in text.split("\n"))


def doc_html(name=None):
    """:func:`doc_markdown` as HTML (mistune, Jupyter's own Markdown library), each heading with the
    id its ``#...`` links use."""
    import mistune

    body = mistune.create_markdown(plugins=["table", "strikethrough"])(_table_code_pipes(doc_markdown(name)))
    body = body.replace("\\|", "|")      # a table cell's escaped pipe (GitHub shows it as |)

    def heading(m):
        return f"<h{m.group(1)} id='{github_slug(m.group(2))}'>{m.group(2)}</h{m.group(1)}>"

    body = re.sub(r"<h([1-6])>(.*?)</h\1>", heading, body, flags=re.S)
    return f"<div class='explorer-doc'>{_DOC_CSS}{body}</div>"


#: Tables with rules and room, code that wraps, a readable measure.
_DOC_CSS = """<style>
.explorer-doc { max-width: 980px; font-size: 14px; line-height: 1.5; }
.explorer-doc table { border-collapse: collapse; margin: 8px 0; }
.explorer-doc th, .explorer-doc td { border: 1px solid #bbb; padding: 3px 6px; vertical-align: top; text-align: left; }
.explorer-doc code { white-space: pre-wrap; word-break: break-word; }
.explorer-doc pre { white-space: pre-wrap; background: rgba(127, 127, 127, 0.08); padding: 6px; }
.explorer-doc a { text-decoration: underline; }
</style>"""


def requested_name(query=None):
    """The ``name`` of the page's query (``?name=physics``), None without one."""
    q = os.environ.get("QUERY_STRING", "") if query is None else query
    values = parse_qs(q.lstrip("?")).get("name")
    return values[0] if values else None


def show_doc(name=None):
    """Display document ``name`` (default: the page's ``?name=``; none: the list of documents).

    An HTML widget, not a Markdown output: its links are plain links that open in the same tab
    (Voila's Markdown renderer opens relative links in a new one).
    """
    import ipywidgets as W
    from IPython.display import display

    widget = W.HTML(doc_html(requested_name() if name is None else name), layout=W.Layout(width="100%"))
    widget.add_class("explorer-doc-page")
    display(widget)
    return None


__all__ = ["available", "doc_html", "doc_markdown", "rewrite_links", "show_doc"]
