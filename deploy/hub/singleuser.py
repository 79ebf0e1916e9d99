"""A student's single-user server: ``jupyterhub-singleuser``, forked from a process that has already
imported it, and without a grammar it never uses.

**Forked** (explorer/serving/forkserver.py): with ``$EXPLORER_FORKSERVER`` set (``make hub`` runs
the fork server as a managed service), this process asks the fork server for a copy of a Python
that has imported Jupyter Server, Voila and JupyterHub's single-user code, and stands in for it
(signals passed on, its exit status returned). Each start then skips ~2 CPU-seconds of imports.
Without a fork server it starts the server itself, as below.

**Without the unused grammar**: Jupyter Server imports jupyter_events, which imports jsonschema's
format checkers, and jsonschema imports ``rfc3987_syntax`` when it is installed (it is:
jupyter-events asks for ``jsonschema[format-nongpl]``) to check the format "iri" — and that package
builds its parser at import, ~1.5 CPU-seconds on the project's machine. No schema a student's server
validates uses "iri", and jsonschema skips the format when the module cannot be imported: so this
entry point (and the fork server) makes it unimportable.

Used by ``make hub`` (``Spawner.cmd`` in jupyterhub_config.py) and by the Kubernetes image
(``singleuser.cmd`` in deploy/k8s/config.yaml, where each pod starts one server and no fork server
runs). The servers' other settings are in ``deploy/hub/jupyter/`` (which extensions load, the
preheated kernels, compression).
"""

import sys

if __name__ == "__main__":
    from explorer.serving.forkserver import launch

    code = launch("singleuser", sys.argv[1:])
    if code is not None:
        sys.exit(code)
    sys.modules.setdefault("rfc3987_syntax", None)      # import rfc3987_syntax → ImportError
    from jupyterhub.singleuser import main

    sys.exit(main())
