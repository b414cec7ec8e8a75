"""Typed errors. Every message names the bad value, what was expected and the fix."""

from __future__ import annotations


class FtzqaError(Exception):
    """Base class for every error ftzqa raises on purpose."""


class InvalidQueryError(FtzqaError, ValueError):
    """The question or a search parameter is not usable."""


class CorpusError(FtzqaError, FileNotFoundError):
    """The corpus folder or one of its files cannot be read."""


class IndexMissingError(FtzqaError, FileNotFoundError):
    """There is no index at the given path."""


class IndexMismatchError(FtzqaError):
    """The index on disk does not match this program or these settings."""


class ModelError(FtzqaError):
    """The embedding model cannot be loaded."""


class StorageError(FtzqaError, OSError):
    """A file could not be written (disk full, file size limit, read-only or no permission)."""

    def __str__(self) -> str:  # the message, not OSError's "[Errno n] ..." form
        return str(self.args[0]) if self.args else ""


class IndexDamagedError(IndexMismatchError):
    """A file of the index folder is damaged or is not what ftzqa wrote (for example a symlink)."""


class InvalidSettingError(FtzqaError, ValueError):
    """A setting from the environment or a flag is not usable."""


class IndexChangedError(FtzqaError):
    """A newer change removed rows the loaded index version still lists (a shared engine such as
    Milvus deletes a removed document's rows at once): load the newer version and ask again."""
