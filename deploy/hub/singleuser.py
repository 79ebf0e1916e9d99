"""A student's single-user server: ``jupyterhub-singleuser`` without a grammar it never uses.

What a cold start costs was measured here (docs/hub.md): Jupyter Server imports jupyter_events,
which imports jsonschema's format checkers, and jsonschema imports ``rfc3987_syntax`` when it is
installed (it is: jupyter-events asks for ``jsonschema[format-nongpl]``) to check the format
"iri" — and that package builds its parser at import, ~1.5 CPU-seconds of a server's ~2.5 on the
project's machine, before anything else. No schema a student's server validates uses "iri", and
jsonschema skips the format when the module cannot be imported: so this entry point makes it
unimportable and starts ``jupyterhub-singleuser`` as it is.

Used by ``make hub`` (``Spawner.cmd`` in jupyterhub_config.py) and by the Kubernetes image
(``singleuser.cmd`` in deploy/k8s/config.yaml). The servers' other settings are in
``deploy/hub/jupyter/`` (which extensions load, the preheated kernels, compression).
"""

import sys

if __name__ == "__main__":
    sys.modules.setdefault("rfc3987_syntax", None)      # import rfc3987_syntax → ImportError
    from jupyterhub.singleuser import main

    sys.exit(main())
