"""A notebook page's response headers before its kernel starts, naming the scripts it will need.

Voila writes a page's first bytes only once the page's kernel has started (~0.4 s here, seconds on
a server that 30 students ask at once); the page's head, which names the scripts Voila's front end
will load (``<link rel="prefetch">``, :func:`explorer.serving.static_files.prefetch`), comes with
them. :class:`EarlyHeadersVoilaHandler` sends the response's headers at once, with the same list
as a ``Link`` header, on which a browser acts as soon as the headers arrive: on a slow link the
page's 1.4 MB of scripts start downloading one kernel start earlier (measured in
docs/classroom.md). The body is Voila's, unchanged.

Swapped into Voila's routes (:func:`swap_into`) by ``make app`` / ``make classroom``
(:mod:`explorer.serving.voila_app`, before it listens) and by the hub's single-user servers (the
server extension :mod:`explorer.serving.static_files`, once every extension has added its routes).
"""

from __future__ import annotations

import html

import tornado.web
from nbclient.util import ensure_async
from voila.tornado.handler import TornadoVoilaHandler

from . import static_files


class EarlyHeadersVoilaHandler(TornadoVoilaHandler):
    """Voila's page handler, whose response headers (with a ``Link`` header) go out before the
    kernel starts.

    Only for a notebook Voila will render with this server's template and whose page names
    scripts (:func:`link_header`); anything else -- a missing notebook (Voila's 404), a file
    Voila redirects, a page without code (the start page), another template asked for in the
    URL -- goes through Voila's handler untouched, since headers sent early cannot be taken back.
    """

    @tornado.web.authenticated
    async def get(self, path=None):
        # a single-notebook server (voila NOTEBOOK) redirects any other path to the file: Voila's
        links = None if self.notebook_path and path else await self._link_header(self.notebook_path or path)
        if links:
            # the headers Voila's get_generator sets (it sets them again: same values), sent now
            self.set_header("Content-Type", "text/html")
            self.set_header("Cache-Control", "no-cache, no-store, must-revalidate")
            self.set_header("Pragma", "no-cache")
            self.set_header("Expires", "0")
            self.set_header("Link", links)
            await self.flush()
        try:
            await super().get(path)
        except Exception as e:
            if not links:
                raise
            # the status (200) has gone: no error page can follow, so the page itself says it
            self.log.error("Voila could not render %s", path, exc_info=True)
            self.write(error_html(e))

    async def _link_header(self, path):
        if not path or not path.endswith(".ipynb") or "template" in self.request.arguments:
            return None
        try:
            # its version only: Voila reads the notebook itself, and a class asks for the same one
            model = await ensure_async(self.contents_manager.get(path, content=False, type="notebook"))
            version = model.get("last_modified")
            known = _LINKS_BY_NOTEBOOK.get((self.base_url, path))
            if version is not None and known is not None and known[0] == version:
                return known[1]
            model = await ensure_async(self.contents_manager.get(path, content=True, type="notebook"))
        except Exception:       # not found, not allowed, not a notebook: Voila answers as it always has
            return None
        links = link_header(model["content"], self.base_url)
        _LINKS_BY_NOTEBOOK[(self.base_url, path)] = (version, links)
        return links


#: (base URL, notebook path) -> (the notebook's last_modified, its Link header): the notebook's
#: content is read once per version, not once per page (Voila reads it again to render it).
_LINKS_BY_NOTEBOOK: dict = {}


def error_html(error):
    """One line for the viewer of a page whose rendering failed after its headers were sent: what
    went wrong, and what to do. Voila fails that way before it has written anything (its kernel
    could not start), so the line is the whole page; errors in the notebook's cells Voila shows
    in the page itself, as before."""
    reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
    return (f"<p role='alert' class='explorer-page-error'>This page could not be started "
            f"({html.escape(reason)}). Reload the page to try again.</p>")


def link_header(nb, base_url):
    """The ``Link`` header naming what :func:`static_files.prefetch` names for notebook ``nb``
    under ``base_url``; None when it names nothing.

    The scripts every such page runs from its own HTML (:func:`static_files.always_run`: the
    front-end bundle, Voila's ``voila.js``) as ``rel=preload; as=script``, fetched at a script's
    priority; the rest (the extensions' entry scripts, which Voila's front end loads later; BokehJS
    where the page runs no bundle) as ``rel=prefetch``, the request the page's head makes too. A
    preload that a page did not use would be a console warning; a prefetch is quiet. Either way the
    browser fetches each file once. Not named: what the page asks for only once the bundle has
    arrived (:func:`static_files.fetched_after_bundle`: BokehJS), which would share a slow link
    with the bundle.
    """
    paths = static_files.prefetch(nb, after_bundle=False)
    if not paths:
        return None
    prefix = base_url.rstrip("/") + "/"
    always = static_files.always_run(paths)
    return ", ".join(f"<{prefix}{path}>; " + ("rel=preload; as=script" if path in always else "rel=prefetch")
                     for path in paths)


def swap_into(web_app) -> int:
    """Replace Voila's page handler in a tornado application's routes, once Voila has added them
    (``make app`` / ``make classroom``: :mod:`explorer.serving.voila_app`; the hub's single-user
    servers: Voila's server extension); returns how many routes."""
    swapped = 0
    rules = list(web_app.default_router.rules)
    while rules:
        rule = rules.pop()
        target = rule.target
        if target is TornadoVoilaHandler:
            rule.target = EarlyHeadersVoilaHandler
            swapped += 1
        elif hasattr(target, "rules"):          # a host's router: its own list of rules
            rules.extend(target.rules)
    return swapped
