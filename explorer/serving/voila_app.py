"""``make app`` / ``make classroom``: Voila, with its ``tornado_settings`` applied in time and the
static files of :mod:`explorer.serving.static_files`.

Run as ``python -m explorer.serving.voila_app NOTEBOOKS [voila options]``: the same command line,
the same ``voila.json`` as ``voila``.

Why a subclass: Voila's ``start()`` builds its tornado ``Application`` first and copies
``Voila.tornado_settings`` into it afterwards. tornado decides on ``compress_response`` (its
gzip transform) inside the constructor, so that setting in ``voila.json`` did nothing (pages
and scripts went out uncompressed); settings read per request (``websocket_compression_options``,
``static_immutable_cache``) did work. Here they are all part of the settings the application is
built with. Nothing else of Voila changes.
"""

from __future__ import annotations

from voila.app import Voila
from voila.utils import get_voila_labextensions_path

from . import static_files


class ExplorerVoila(Voila):
    """Voila whose ``tornado_settings`` take effect, serving BokehJS and long-cached static files."""

    def init_settings(self):
        # before the kernel manager exists: pooled kernels start from this environment too
        static_files.announce_bokehjs_route()
        settings = super().init_settings()
        labextensions = get_voila_labextensions_path(self.voila_configuration.extra_labextensions_path)
        immutable = set(self.tornado_settings.get("static_immutable_cache", []))
        immutable.update(static_files.labextension_static_prefixes(self.server_url, labextensions))
        self.tornado_settings = {**self.tornado_settings, "static_immutable_cache": sorted(immutable)}
        settings.update(self.tornado_settings)
        return settings

    def init_handlers(self):
        handlers = super().init_handlers()
        if self.tornado_settings.get("compress_response"):
            # Voila's static files (its scripts, the template's CSS, the extensions) compressed once
            handlers = [(h[0], static_files.precompressed(h[1]), *h[2:]) for h in handlers]
        # first: a single-notebook Voila ends its list with a catch-all route
        return static_files.bokehjs_handlers(self.server_url) + handlers


main = ExplorerVoila.launch_instance

if __name__ == "__main__":
    main()
