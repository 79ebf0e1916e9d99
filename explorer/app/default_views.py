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
import sys

from .core import default_view


def rbm_default_view():
    """``(fingerprint, tree)`` of the RBM explorer's default state, computed afresh."""
    from .rbm_compute import RBMCompute
    from .rbm_state import DEFAULT

    compute = RBMCompute(run_ais=False)
    return compute.default_view_key(DEFAULT), compute.default_view(DEFAULT)


def vae_default_view():
    """``(fingerprint, tree)`` of the VAE explorer's default digit, computed afresh (loads torch)."""
    from .vae_compute import VAECompute
    from .vae_state import DEFAULT

    compute = VAECompute.load_lazily()
    return (compute.default_view_key(DEFAULT.index, DEFAULT.samples),
            compute.default_view(DEFAULT.index, DEFAULT.samples))


EXPLORERS = {"rbm": rbm_default_view, "vae": vae_default_view}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="explorers among " + ", ".join(EXPLORERS) + " (default: all)")
    args = ap.parse_args(argv)
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
