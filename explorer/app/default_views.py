"""Write the explorers' default views to ``explorer/data/`` (see :mod:`explorer.app.core.default_view`).

Run after a change to the physics or to an explorer's default state or grids, from the
repository root::

    .venv/bin/python -m explorer.app.default_views            # both explorers
    .venv/bin/python -m explorer.app.default_views rbm        # one

``tests/app/test_default_view.py`` (RBM) and ``tests/app/test_vae_default_view.py`` (VAE) fail
until the files match a fresh computation.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from .core import default_view


def rbm_default_view():
    """``(fingerprint, tree)`` of the RBM explorer's default state, computed afresh."""
    from .rbm.compute import RBMCompute
    from .rbm.state import DEFAULT

    compute = RBMCompute(run_ais=False)
    return compute.default_view_key(DEFAULT), compute.default_view(DEFAULT)


def vae_default_view():
    """``(fingerprint, tree)`` of the VAE explorer's default digit, computed afresh (loads torch)."""
    from .vae.compute import VAECompute
    from .vae.state import DEFAULT

    compute = VAECompute.load_lazily()
    return (compute.default_view_key(DEFAULT.index, DEFAULT.samples),
            compute.default_view(DEFAULT.index, DEFAULT.samples))


EXPLORERS = {"rbm": rbm_default_view, "vae": vae_default_view}


def shipped_keys():
    """The keys under which this machine looks for the shipped files (nothing is computed): the
    default views' fingerprints and the file name of the VAE split's gaps (loads torch).

    They must be the same on every CPU and BLAS (``tests/test_other_cpus.py`` runs this under
    simulated CPUs): a machine that computes another key ignores the shipped file.
    """
    from ..vae.analysis import VAESession
    from ..vae.variational import split_cache_path
    from .rbm.compute import RBMCompute
    from .rbm.state import DEFAULT as RBM_DEFAULT
    from .vae.compute import VAECompute
    from .vae.state import DEFAULT as VAE_DEFAULT

    return {"rbm": RBMCompute(run_ais=False).default_view_key(RBM_DEFAULT),
            "vae": VAECompute.load_lazily().default_view_key(VAE_DEFAULT.index, VAE_DEFAULT.samples),
            "vae_gaps": os.path.basename(split_cache_path(VAESession(), directory=""))}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="explorers among " + ", ".join(EXPLORERS) + " (default: all)")
    ap.add_argument("--keys", action="store_true",
                    help="print the keys the shipped files are looked up under, as JSON, and write nothing")
    args = ap.parse_args(argv)
    if args.keys:
        print(json.dumps(shipped_keys(), sort_keys=True))
        return 0
    unknown = sorted(set(args.names) - set(EXPLORERS))
    if unknown:
        ap.error(f"unknown explorer {', '.join(unknown)}: choose among {', '.join(EXPLORERS)}")
    for name in args.names or list(EXPLORERS):
        key, tree = EXPLORERS[name]()
        path = default_view.write(name, key, tree)
        print(f"{name}: {path} ({path.stat().st_size / 1024:.0f} kB, fingerprint {key})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
