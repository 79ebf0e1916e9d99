"""Command-line interface: ``python -m explorer <command> ...``.

Each sub-command lives in its own module under :mod:`explorer.commands` and exposes
``add_parser(subparsers)``, which registers its arguments and sets ``func``. Modules
import heavy libraries (torch) inside ``func`` so that ``--help`` stays fast.

Errors a user can cause are :class:`explorer.errors.InputError`: they print one line on
stderr and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import pkgutil
import sys

import numpy as np

from . import commands
from .errors import InputError

EXIT_BAD_INPUT = 2


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m explorer",
        description="Exact free energies, variational bounds and their corrections.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.add_parser(sub)
    return parser


class _ArgumentParserExit(Exception):
    pass


def to_jsonable(obj):
    """Convert numpy scalars and arrays (recursively) to plain JSON types; non-finite → None."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return x if math.isfinite(x) else None
    return obj


def print_json(obj, stream=None):
    json.dump(to_jsonable(obj), stream or sys.stdout, indent=2, allow_nan=False)
    (stream or sys.stdout).write("\n")


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # output piped into `head` and closed early: not an error of ours
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
