"""The explorers' small HTML pieces: messages, the readout table, link and CSV download.

Every text that comes from a user (a file name, a URL parameter) is escaped here.
"""

from __future__ import annotations

import base64
import html


def escape(text):
    """HTML-escape ``text`` (quotes included: values end up inside attributes)."""
    return html.escape(str(text), quote=True).replace("&#x27;", "&#39;")


#: The one colour of an error text (6.5:1 on white).
ERROR_COLOUR = "#b00020"
#: Secondary text (differences, notes): the page theme's second text colour, which meets WCAG's
#: 4.5:1 on its own background (light and dark); #595959 (7:1 on white) outside JupyterLab's CSS.
MUTED_COLOUR = "var(--jp-content-font-color2, #595959)"


def status_html(css_class, text, error=False, error_class=None):
    """A status or message line: ``text`` escaped, in :data:`ERROR_COLOUR` when ``error`` (then
    also ``error_class``); empty for no text."""
    if not text:
        return ""
    classes = css_class + (f" {error_class}" if error and error_class else "")
    color = ERROR_COLOUR if error else "inherit"
    return f"<div class='{classes}' style='color:{color};white-space:normal'>{escape(text)}</div>"


def muted_html(text_html):
    """Secondary text (already HTML) in :data:`MUTED_COLOUR`."""
    return f"<span style='color:{MUTED_COLOUR}'>{text_html}</span>"


def message_html(prefix, text, error=False):
    """A one-line message (``{prefix}-message``; errors also ``{prefix}-error``)."""
    return status_html(f"{prefix}-message", text, error, f"{prefix}-error")


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


def csv_pending_html(prefix):
    """Where :func:`csv_html`'s link will be, while the page is still opening."""
    return f"<span class='{prefix}-csv-pending'>{muted_html('Download the curves (CSV): preparing…')}</span>"


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


class Html(str):
    """Text that is already HTML (typeset notation: F<sub>T</sub>, E<sub>q</sub>[w<sup>λ</sup>]): the
    readout shows it as it is instead of escaping it."""


def _html(text):
    return text if isinstance(text, Html) else escape(text)


def readout_html(prefix, heading, cells, note=""):
    """The readout: a heading line, then cells (name, value html, difference or None) that wrap.

    Names and the note are escaped unless they are :class:`Html`. Every technical word of the
    heading, the names and the note is explained by its hover title
    (:func:`explorer.views.glossary.annotate`; a cell's name is wrapped whole, so its words stay
    together; the page lists the terms under the readout).
    Cells are inline blocks, so a narrow window wraps them onto more lines instead of clipping.
    """
    from .glossary import annotate, annotate_whole

    items = "".join(
        f"<div style='display:inline-block;vertical-align:top;margin:2px 14px 2px 0'>{annotate_whole(_html(name))}"
        f"<br>{value}" + ("" if diff is None else "<br>" + muted_html(f"{diff:+.2e}")) + "</div>"
        for name, value, diff in cells)
    tail = f"<div style='color:{MUTED_COLOUR}'>{annotate(_html(note))}</div>" if note else ""
    return (f"<div class='{prefix}-readout' style='font-size:13px;line-height:1.35'>{annotate(heading)}"
            f"<div>{items}</div>{tail}</div>")
