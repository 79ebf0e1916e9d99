"""The explorer skeleton both models share: state, scheduling, classroom options, the shell."""

from .shell import ALL, ExplorerShell, Panel

__all__ = ["ALL", "ExplorerShell", "Panel"]
