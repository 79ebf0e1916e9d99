"""User-facing errors of the explorer.

Every error a user can cause by bad input (a temperature of zero, a file with
missing keys, a system too large to enumerate) is an :class:`InputError`. The
CLI and the app turn it into a one-line message; anything else is a bug.
"""


class InputError(ValueError):
    """Bad input from a user: the message is one readable line."""


class EnumerationLimitError(InputError):
    """The system has too many states to enumerate exactly."""
