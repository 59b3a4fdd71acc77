"""The exceptions groupsup raises for bad input.

Every user-facing error derives from :class:`GroupsupError`; the CLI prints its message as one
line and exits with status 1. Messages name the attribute, value, file or key at fault.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class GroupsupError(Exception):
    """Base class of every error caused by input (data, config, plugins), not by a bug."""


class SchemaError(GroupsupError, ValueError):
    """A schema declaration is invalid (names, sizes, vocabularies)."""


class LabelError(GroupsupError, ValueError):
    """A label does not fit its schema (unknown value, wrong row length, code out of range)."""


class PartitionError(GroupsupError, ValueError):
    """A latent code's width or a block name does not match the partition."""


class DataError(GroupsupError):
    """A data file or folder is missing, unreadable, corrupt or of the wrong shape."""


class ConfigError(GroupsupError, ValueError):
    """A configuration key or value is invalid."""


class PluginError(GroupsupError):
    """A plugin failed to load or registered something invalid."""


class StorageError(GroupsupError, OSError):
    """An output could not be written (no space left on device); the previous one is kept."""


class RegistryError(GroupsupError, LookupError):
    """A name was looked up in a registry that does not hold it."""

    def __str__(self) -> str:  # LookupError would quote the message like a KeyError
        return str(self.args[0]) if self.args else ""


class GroupsWarning(UserWarning):
    """Training or evaluation goes on, but something the user should know about is off (for
    example a label value that no swap can ever transfer)."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest of *choices*, or ``""``."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
