"""Limits on reading one file: sizes, memory, time. Defaults, overridable from the environment."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from typing import Any

from .errors import CorpusError

# field name -> environment variable
ENV = {
    "max_file_mb": "FTZQA_MAX_FILE_MB",
    "max_text_mb": "FTZQA_MAX_TEXT_MB",
    "max_unzipped_mb": "FTZQA_MAX_UNZIPPED_MB",
    "max_zip_ratio": "FTZQA_MAX_ZIP_RATIO",
    "max_pdf_pages": "FTZQA_MAX_PDF_PAGES",
    "parse_memory_mb": "FTZQA_PARSE_MEMORY_MB",
    "parse_seconds": "FTZQA_PARSE_SECONDS",
}
MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """What one file may cost. PDF, DOCX and HTML are parsed in a worker process held to these."""

    max_file_mb: float = 50  # size of the file on disk or uploaded
    max_text_mb: float = 20  # text extracted from one PDF, DOCX or HTML file (UTF-8)
    max_unzipped_mb: float = 200  # all members of a .docx, unpacked
    max_zip_ratio: float = 100  # unpacked / packed size of any .docx member over 1 MB unpacked
    max_pdf_pages: int = 5000
    parse_memory_mb: float = 1024  # address space of the worker process (RLIMIT_AS)
    parse_seconds: float = 60  # wall time to read one file in the worker
    max_zip_members: int = 10_000  # not from the environment: no real .docx comes near it

    @classmethod
    def from_env(cls, **overrides: Any) -> Limits:
        """Defaults, then the ``FTZQA_*`` variables in ``ENV``, then explicit overrides."""
        values: dict[str, Any] = {}
        kinds = {f.name: f.type for f in fields(cls)}
        for name, var in ENV.items():
            raw = os.environ.get(var)
            if raw is None or not raw.strip():
                continue
            try:
                value = int(raw) if kinds[name] in (int, "int") else float(raw)
            except ValueError:
                raise CorpusError(f"{var} of {raw!r} is not a number; set it to a positive number") from None
            if value <= 0:
                raise CorpusError(f"{var} of {raw!r} must be above 0; set it to a positive number or unset it")
            values[name] = value
        values.update(overrides)
        return cls(**values)

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * MB)

    @property
    def max_text_bytes(self) -> int:
        return int(self.max_text_mb * MB)

    @property
    def max_unzipped_bytes(self) -> int:
        return int(self.max_unzipped_mb * MB)

    @property
    def parse_memory_bytes(self) -> int:
        return int(self.parse_memory_mb * MB)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
