"""Voila's preheated kernels inside a Jupyter server: the hub's single-user servers.

``make classroom`` keeps a pool of kernels that have already built the explorer (Voila's
``preheat_kernel``), but that pool exists only in the standalone ``voila`` server: in a hub Voila
is an extension of each student's own Jupyter server, whose kernel manager has no pool, so every
student's explorer was built when they opened it (~3 CPU-s each, at the moment the class logs in).

This module brings the same pool into a Jupyter server, with Voila's own pooling code
(``voila.voila_kernel_manager``, the class ``make classroom`` uses):

* :class:`ServerPoolKernelManager` is the server's kernel manager (``ServerApp.kernel_manager_class``
  in ``deploy/hub/jupyter/jupyter_server_config.json``): Voila's ``VoilaKernelManager`` over
  :class:`~explorer.serving.kernel_pacing.PacedKernelManager`. Voila's page handler finds the pool
  on the server's kernel manager and serves a pooled kernel's page exactly as in ``make classroom``.
  The pool is per student, so by default it is one kernel of the RBM explorer and one of the start
  page, started once when the server starts and not refilled (``refill``).
* the server extension (this module, ``ServerApp.jpserver_extensions``) starts the pools once the
  server's web application exists (a standalone Voila starts them in its constructor, where a Jupyter
  server has no web application yet) and serves ``voila/query/<kernel id>``, the websocket on
  which a pooled kernel waits for its page's request (:func:`explorer.serving.preheat.wait_for_request`;
  the standalone Voila serves it, Voila's server extension does not). Only connections from the
  kernel itself are taken there: from the loopback address, not through the hub's proxy.

A pooled kernel builds the explorer at low CPU priority (:mod:`explorer.serving.preheat`), so a
server started before the lesson (``make hub-prestart``) is ready with the explorer built, and a
cold login's kernel starts while the student is still being redirected.

Imports jupyter_server and voila only (never jupyterhub or the app).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import time
from pathlib import Path

from traitlets import Bool, Float, default
from voila.voila_kernel_manager import voila_kernel_manager_factory

from .kernel_pacing import PacedKernelManager

#: What a student's pool holds unless configured: the first page after login and the explorer.
DEFAULT_POOLS = {
    "default": {"pool_size": 0},
    "notebooks/rbm_explorer.ipynb": {"pool_size": 1},
    "notebooks/index.ipynb": {"pool_size": 1},
}

_VoilaPool = voila_kernel_manager_factory(PacedKernelManager, True, 0)


class ServerPoolKernelManager(_VoilaPool):
    """Voila's pooled kernel manager as a Jupyter server's kernel manager.

    Configure it as ``ServerPoolKernelManager`` (``kernel_pools_config``: notebook paths relative to
    the server's root folder → ``{"pool_size": n}``; ``fill_delay``; ``refill``; ``start_delay``)."""

    refill = Bool(
        False, config=True,
        help="Start a new pooled kernel after one is taken (Voila's behaviour). Off: a student's "
             "server pools its first page of each notebook only, and a second tab starts a kernel "
             "as without a pool (no kernel is kept idle for a page nobody opens).")
    start_delay = Float(
        0.0, min=0.0, config=True,
        help="Seconds after the server starts before its pooled kernels start.")

    def __init__(self, **kwargs):
        # Not VoilaKernelManager.__init__: it starts the pools at once and reads a standalone
        # Voila's attributes from its parent; here the parent is the ServerApp and the pools start
        # from the server extension, once the web application exists (start_pools).
        PacedKernelManager.__init__(self, **kwargs)
        self._wait_at_startup = True
        self.notebook_data = {}
        self._pools = {}
        self.notebook_path = None
        self._voila = None          # (VoilaConfiguration, template paths, web app settings)
        self._started = False

    @default("kernel_pools_config")
    def _default_pools(self):
        return dict(DEFAULT_POOLS)

    async def start_pools(self, voila_configuration, template_paths, settings, wait_for_notebooks=60.0):
        """Fill every configured pool (once; called by the server extension). A notebook not yet
        in the root folder is waited for up to ``wait_for_notebooks`` seconds (Kubernetes copies
        the notebooks into the home folder while the server starts)."""
        if self._started:
            return
        self._voila = (voila_configuration, template_paths, settings)
        self._started = True
        wanted = [name for name, conf in self.kernel_pools_config.items()
                  if name != "default" and conf.get("pool_size", 0) > 0]
        deadline = time.monotonic() + wait_for_notebooks
        while wanted:
            for name in [n for n in wanted if (Path(self.root_dir) / n).is_file()]:
                wanted.remove(name)
                self.log.info("explorer: preheating %s", name)
                # Voila's page handler takes a pooled kernel only for a notebook it has data of, which
                # Voila records once the pooled kernel has started: a student asking during those
                # seconds got a second kernel (and the pooled one stayed unused). Recorded now, the
                # request waits for the pooled kernel instead.
                self.notebook_data.setdefault(name, {"template": voila_configuration.template,
                                                     "theme": voila_configuration.theme, "kernel_ids": set()})
                self._fill(delay=self.start_delay, notebook_name=name)
            if not wanted or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        if wanted:
            self.log.warning("explorer: no preheated kernel for %s (not in %s)", ", ".join(wanted), self.root_dir)

    def pool_status(self):
        """``{notebook: {"size": kernels in its pool, "warm": those that have built their page}}``.
        A kernel is warm when its notebook has run to the end, or to the point where it waits for
        its page's request (the explorers: :func:`explorer.serving.preheat.wait_for_request`)."""
        from voila.request_info_handler import RequestInfoSocketHandler

        waiting = set(RequestInfoSocketHandler._waiters)
        status = {}
        for name, pool in self._pools.items():
            warm = 0
            for task in pool:
                if not task.done() or task.exception() is not None:
                    continue
                content = task.result()
                if content["kernel_id"] in waiting or content["task"].done():
                    warm += 1
            status[name] = {"size": len(pool), "warm": warm}
        return status

    def _fill(self, **kwargs):
        # Voila reads parent.server_url (a standalone Voila's attribute): a Jupyter server's is its base URL
        parent = self.parent
        if not hasattr(parent, "server_url"):
            parent.server_url = parent.base_url
        super().fill_if_needed(**kwargs)

    def fill_if_needed(self, delay=None, notebook_name=None, extra_kernel_env_variables=None, **kwargs):
        """Voila calls this after a pooled kernel is taken: refill only where ``refill`` is on."""
        if not self._started or not self.refill:
            return
        self._fill(delay=delay, notebook_name=notebook_name,
                   extra_kernel_env_variables=extra_kernel_env_variables or {}, **kwargs)

    def _notebook_renderer_factory(self, notebook_path=None):
        """Voila's renderer for a pooled kernel, from the server's settings (as Voila's page
        handler builds it in a Jupyter server) instead of a standalone Voila's attributes."""
        from voila.notebook_renderer import NotebookRenderer
        from voila.utils import get_page_config

        voila_configuration, template_paths, settings = self._voila
        server = self.parent
        page_config_kwargs = {"base_url": server.base_url, "settings": settings, "log": self.log,
                              "voila_configuration": voila_configuration}
        page_config = get_page_config(**page_config_kwargs)
        hook = voila_configuration.page_config_hook
        if hook:
            page_config = hook(page_config, **page_config_kwargs, notebook_path=notebook_path)
        return NotebookRenderer(
            voila_configuration=voila_configuration,
            traitlet_config=server.config,
            notebook_path=notebook_path,
            template_paths=template_paths,
            config_manager=server.config_manager,
            contents_manager=server.contents_manager,
            base_url=server.base_url,
            kernel_spec_manager=server.kernel_spec_manager,
            page_config=page_config,
            mathjax_config=settings.get("mathjax_config"),
            mathjax_url=settings.get("mathjax_url"),
        )


def _request_info_handler():
    from voila.request_info_handler import RequestInfoSocketHandler

    class KernelRequestInfoHandler(RequestInfoSocketHandler):
        """Voila's ``voila/query/<kernel id>`` websocket, for the server's own kernels only."""

        def get(self, *args, **kwargs):
            # the kernel connects to the server directly; the hub's proxy adds X-Forwarded-For
            if "X-Forwarded-For" in self.request.headers or not _is_loopback(self.request.remote_ip):
                self.set_status(403)
                self.finish()
                return None
            return super().get(*args, **kwargs)

    return KernelRequestInfoHandler


def _pool_status_handler():
    from jupyter_server.base.handlers import APIHandler
    from tornado import web

    class PoolStatusHandler(APIHandler):
        """``GET <base_url>explorer/pool``: the preheated kernels (``make hub-prestart`` waits on it)."""

        @web.authenticated
        def get(self):
            km = self.kernel_manager
            pools = km.pool_status() if isinstance(km, ServerPoolKernelManager) else {}
            self.set_header("Cache-Control", "no-store")
            self.finish(json.dumps({"pools": pools}))

    return PoolStatusHandler


def _is_loopback(ip):
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def _voila_settings(serverapp):
    """The VoilaConfiguration and template paths Voila's server extension uses."""
    from voila.configuration import VoilaConfiguration
    from voila.paths import collect_template_paths
    from voila.server_extension import load_config_file

    voila_configuration = VoilaConfiguration(parent=serverapp)
    local = load_config_file()
    if local is not None:
        voila_configuration.update_config(local)
    return voila_configuration, collect_template_paths(["voila", "nbconvert"], voila_configuration.template)


def _jupyter_server_extension_points():
    return [{"module": "explorer.serving.server_pool"}]


def _load_jupyter_server_extension(serverapp):
    """Serve the pooled kernels' request websocket and start the pools (when the server's kernel
    manager is a :class:`ServerPoolKernelManager`; otherwise nothing)."""
    from jupyter_server.utils import url_path_join

    km = serverapp.kernel_manager
    if not isinstance(km, ServerPoolKernelManager):
        serverapp.log.info("explorer.serving.server_pool: the kernel manager has no pool (%s)",
                           type(km).__name__)
        return
    web_app = serverapp.web_app
    base_url = web_app.settings.get("base_url", "/")
    web_app.add_handlers(".*$", [(url_path_join(base_url, r"/voila/query/(?P<kernel_id>[\w-]+)"),
                                  _request_info_handler()),
                                 (url_path_join(base_url, "/explorer/pool"), _pool_status_handler())])
    voila_configuration, template_paths = _voila_settings(serverapp)
    serverapp.io_loop.add_callback(km.start_pools, voila_configuration, template_paths, web_app.settings)


load_jupyter_server_extension = _load_jupyter_server_extension
