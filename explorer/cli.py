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
import pkgutil
import sys

from . import commands
from .commands._output import print_json, to_jsonable
from .errors import InputError

# print_json and to_jsonable live in commands/_output.py (the commands use them and must not import
# this module, which imports them); kept importable from here for callers of explorer.cli.
__all__ = ["EXIT_BAD_INPUT", "build_parser", "main", "print_json", "to_jsonable"]

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
