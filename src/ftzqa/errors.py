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
