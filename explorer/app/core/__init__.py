"""The explorer skeleton both models share: state fields, scheduling, classroom options, the shell."""

from .fields import Field, Schema
from .shell import ExplorerShell, Panel

__all__ = ["ExplorerShell", "Field", "Panel", "Schema"]
