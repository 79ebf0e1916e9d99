"""The explorers' small HTML pieces: messages, the readout table, link and CSV download.

Every text that comes from a user (a file name, a URL parameter) is escaped here.
"""

from __future__ import annotations

import base64
import html


def escape(text):
    """HTML-escape ``text`` (quotes included: values end up inside attributes)."""
    return html.escape(str(text), quote=True).replace("&#x27;", "&#39;")


def message_html(prefix, text, error=False):
    """A one-line message (``{prefix}-message``; errors also ``{prefix}-error``)."""
    if not text:
        return ""
    color = "#b00020" if error else "inherit"
    return (f"<div class='{prefix}-message{f' {prefix}-error' if error else ''}' "
            f"style='color:{color};white-space:normal'>{escape(text)}</div>")


def link_html(prefix, url):
    """"Link to this view" with the URL written out (so it can be copied from a projector)."""
    u = escape(url)
    return (f"<div class='{prefix}-link'><a href='{u}' target='_blank'>Link to this view</a>: "
            f"<code style='word-break:break-all'>{u}</code></div>")


def csv_html(prefix, filename, text):
    """A download link carrying ``text`` as a data URL (works offline, no server round trip)."""
    b64 = base64.b64encode(text.encode()).decode()
    return (f"<a class='{prefix}-csv' download='{escape(filename)}' "
            f"href='data:text/csv;base64,{b64}'>Download the curves (CSV)</a>")


def fmt(x, digits=6, stderr=None):
    """A number for the readout: bold, "—" when missing, "−∞ (diverges)" for −inf."""
    if x is None:
        return "—"
    x = float(x)
    if x != x:
        return "—"
    if x == float("-inf"):
        return "−∞ (diverges)"
    if x == float("inf"):
        return "∞"
    out = f"<b>{x:.{digits}f}</b>"
    if stderr is not None and stderr == stderr:
        out += f" ± {2 * float(stderr):.{digits}f}"
    return out


def readout_html(prefix, heading, cells, note=""):
    """The readout: a heading line, then cells (name, value html, difference or None) that wrap.

    Cells are inline blocks, so a narrow window wraps them onto more lines instead of clipping.
    """
    items = "".join(
        f"<div style='display:inline-block;vertical-align:top;margin:2px 14px 2px 0'>{escape(name)}<br>{value}"
        + ("" if diff is None else f"<br><span style='color:#777'>{diff:+.2e}</span>") + "</div>"
        for name, value, diff in cells)
    tail = f"<div style='color:#777'>{escape(note)}</div>" if note else ""
    return (f"<div class='{prefix}-readout' style='font-size:13px;line-height:1.35'>{heading}"
            f"<div>{items}</div>{tail}</div>")
