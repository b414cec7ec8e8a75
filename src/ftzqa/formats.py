"""Extract indexable text from each supported file format.

Every reader returns plain text in which paragraphs are separated by blank lines and headings
are Markdown ``#`` lines, so the chunker treats all formats alike and offsets point into this
extracted text. PDF pages become ``## Page N`` headings, so citations name the page.

The PDF, DOCX and HTML readers run third-party parsers on untrusted bytes: call them through
``ftzqa.sandbox.Extractor``, which runs them in a worker process with memory and time limits.
They check the sizes they can check cheaply themselves (``Limits``): zip members before
python-docx opens the archive, the PDF page count before pages are read, extracted text as it
grows.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import CorpusError
from .limits import MB, Limits

TEXT_SUFFIXES = (".md", ".markdown", ".txt")
SUFFIXES = (*TEXT_SUFFIXES, ".html", ".htm", ".pdf", ".docx")
MIN_HTML_WORDS = 5


@dataclass(frozen=True, slots=True)
class Extracted:
    text: str
    fields: dict[str, str] = field(default_factory=dict)  # title, author, source, date when known


def decode_text(data: bytes, name: str) -> str:
    """Decode file bytes as UTF-8 text or raise CorpusError naming the file and the fix."""
    if b"\x00" in data[:8192]:
        raise CorpusError(f"{name}: looks like a binary file (NUL bytes), not text; remove it from the corpus")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{name}: is not UTF-8 text (bad byte at offset {exc.start}); re-save it as UTF-8") from None


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def one_line(message: str, limit: int = 300) -> str:
    """A library's error message as one short line."""
    text = " ".join(message.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _TextBudget:
    """Counts extracted text (UTF-8 bytes) and refuses the file once it passes the limit."""

    def __init__(self, name: str, limits: Limits) -> None:
        self.name, self.limit, self.used = name, limits.max_text_bytes, 0
        self.mb = limits.max_text_mb

    def add(self, text: str) -> None:
        self.used += len(text.encode("utf-8", "surrogatepass"))
        if self.used > self.limit:
            raise CorpusError(
                f"{self.name}: holds more than {self.mb:g} MB of text (FTZQA_MAX_TEXT_MB); "
                "split it into smaller files, or raise the limit if the file is genuine"
            )


def read_text(data: bytes, name: str, limits: Limits | None = None) -> Extracted:
    return Extracted(_normalise(decode_text(data, name)))


def read_html(data: bytes, name: str, limits: Limits | None = None) -> Extracted:
    import trafilatura

    limits = limits or Limits()
    html = data.decode("utf-8", errors="replace")
    try:
        text = trafilatura.extract(html, output_format="markdown", include_comments=False, include_images=False)
        meta = trafilatura.extract_metadata(html)
    except (MemoryError, RecursionError):
        raise
    except Exception as exc:
        raise CorpusError(
            f"{name}: cannot read this HTML page ({type(exc).__name__}: {one_line(str(exc))}); "
            "save the article text as .txt or .md"
        ) from None
    if text:
        _TextBudget(name, limits).add(text)
    if not text or len(text.split()) < MIN_HTML_WORDS:  # a lone menu word is not an article
        raise CorpusError(f"{name}: no main text found in this HTML page; save the article text as .txt or .md")
    fields = {}
    if meta is not None:
        for key in ("title", "author", "date", "sitename"):
            value = getattr(meta, key, None)
            if value:
                fields["source" if key == "sitename" else key] = str(value)
    return Extracted(_normalise(text), fields)


def read_pdf(data: bytes, name: str, limits: Limits | None = None) -> Extracted:
    from pypdf import PdfReader

    limits = limits or Limits()
    budget = _TextBudget(name, limits)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise CorpusError(f"{name}: the PDF is encrypted; save an unencrypted copy and add that")
        _check_page_count(name, limits, _declared_pages(reader))
        _check_page_count(name, limits, len(reader.pages))
        pages = []
        for pdf_page in reader.pages:
            text = pdf_page.extract_text() or ""
            budget.add(text)
            pages.append(text)
        info = reader.metadata
    except (CorpusError, MemoryError, RecursionError):
        raise
    except Exception as exc:  # pypdf raises many types on damaged or hostile files (LimitReachedError, ...)
        raise CorpusError(
            f"{name}: cannot read this PDF ({type(exc).__name__}: {one_line(str(exc))}); check the file"
        ) from None
    parts = []
    for number, page in enumerate(pages, start=1):
        body = _pdf_paragraphs(page)
        if body:
            parts.append(f"## Page {number}\n\n{body}")
    fields = {}
    if info is not None and info.title:
        fields["title"] = str(info.title)
    if info is not None and info.author:
        fields["author"] = str(info.author)
    return Extracted("\n\n".join(parts) + "\n", fields)


def _declared_pages(reader: object) -> int:
    """The page count the PDF's page tree claims (/Count), read before walking the tree."""
    try:
        count = reader.trailer["/Root"]["/Pages"]["/Count"]  # type: ignore[attr-defined]
        return int(count)
    except Exception:  # missing or odd: the real count is checked next
        return 0


def _check_page_count(name: str, limits: Limits, pages: int) -> None:
    if pages > limits.max_pdf_pages:
        raise CorpusError(
            f"{name}: has {pages:,} pages, over the limit of {limits.max_pdf_pages:,} (FTZQA_MAX_PDF_PAGES); "
            "split it into smaller files, or raise the limit if the file is genuine"
        )


def _pdf_paragraphs(page: str) -> str:
    """Join hard-wrapped lines; keep blank-line paragraph breaks; drop a leading '#'."""
    paragraphs = re.split(r"\n[ \t]*\n", _normalise(page))
    out = []
    for para in paragraphs:
        joined = " ".join(line.strip() for line in para.splitlines() if line.strip())
        if joined:
            out.append(joined.lstrip("#").strip() or joined)
    return "\n\n".join(out)


def check_zip(data: bytes, name: str, limits: Limits) -> None:
    """Refuse a .docx whose zip members are too many, too large or too compressed, before any
    member is unpacked (zipfile never unpacks more than a member's declared size)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
        raise CorpusError(
            f"{name}: is not a .docx document (not a valid zip archive); "
            "open it in a word processor and save it as .docx"
        ) from None
    if len(members) > limits.max_zip_members:
        raise CorpusError(
            f"{name}: holds {len(members):,} files inside, more than the {limits.max_zip_members:,} "
            "a .docx needs; this looks like a zip bomb, check the file"
        )
    total = 0
    for member in members:
        total += member.file_size
        if total > limits.max_unzipped_bytes:
            raise CorpusError(
                f"{name}: unpacks to more than {limits.max_unzipped_mb:g} MB ({member.filename} alone is "
                f"{member.file_size / MB:,.0f} MB) (FTZQA_MAX_UNZIPPED_MB); this looks like a zip bomb, "
                "check the file, or raise the limit if it is genuine"
            )
        ratio = member.file_size / max(1, member.compress_size)
        if member.file_size > MB and ratio > limits.max_zip_ratio:
            raise CorpusError(
                f"{name}: {member.filename} expands {ratio:,.0f} times (from {member.compress_size / MB:.2f} MB "
                f"to {member.file_size / MB:,.0f} MB), over the limit of {limits.max_zip_ratio:g} "
                "(FTZQA_MAX_ZIP_RATIO); this looks like a zip bomb, check the file, or raise the limit "
                "if it is genuine"
            )


def read_docx(data: bytes, name: str, limits: Limits | None = None) -> Extracted:
    import docx

    limits = limits or Limits()
    check_zip(data, name, limits)
    budget = _TextBudget(name, limits)
    parts = []
    fields: dict[str, str] = {}
    try:
        document = docx.Document(io.BytesIO(data))
        style_name = _paragraph_style_names(document)
        for para in document.paragraphs:
            text = " ".join(para.text.split())
            if not text:
                continue
            budget.add(text)
            style = style_name(para._p.style)
            if style == "Title":
                fields.setdefault("title", text)
                parts.append(f"# {text}")
            elif style.startswith("Heading"):
                level = style.removeprefix("Heading").strip()
                hashes = "#" * min(6, int(level) + 1) if level.isdigit() else "##"
                parts.append(f"{hashes} {text}")
            else:
                parts.append(text)
        props = document.core_properties
        if props.title:
            fields["title"] = props.title
        if props.author:
            fields["author"] = props.author
    except (CorpusError, MemoryError, RecursionError):
        raise
    except Exception as exc:  # zip, XML (lxml) and package errors from python-docx
        raise CorpusError(
            f"{name}: cannot read this .docx ({type(exc).__name__}: {one_line(str(exc))}); "
            "open it in a word processor and save it again"
        ) from None
    return Extracted("\n\n".join(parts) + "\n", fields)


def _paragraph_style_names(document: object) -> Callable[[str | None], str]:
    """Paragraph style id -> name, looked up once (python-docx's ``paragraph.style`` scans every
    style per paragraph: minutes for a long document). Unknown ids get the default style."""
    from docx.enum.style import WD_STYLE_TYPE

    styles = document.styles  # type: ignore[attr-defined]
    names = {s.style_id: s.name or "" for s in styles if s.type == WD_STYLE_TYPE.PARAGRAPH}
    default = styles.default(WD_STYLE_TYPE.PARAGRAPH)
    fallback = (default.name or "") if default is not None else ""
    return lambda style_id: names.get(style_id, fallback) if style_id is not None else fallback


READERS: dict[str, Callable[[bytes, str, Limits | None], Extracted]] = {
    ".md": read_text,
    ".markdown": read_text,
    ".txt": read_text,
    ".html": read_html,
    ".htm": read_html,
    ".pdf": read_pdf,
    ".docx": read_docx,
}


def suffix_of(name: str) -> str:
    return "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""


def extract(data: bytes, name: str, limits: Limits | None = None) -> Extracted:
    """Text and metadata of a file, by its extension, parsed in this process (see the module doc)."""
    suffix = suffix_of(name)
    reader = READERS.get(suffix)
    if reader is None:
        raise CorpusError(f"{name}: unsupported file type {suffix or '(none)'!r}; supported: {', '.join(SUFFIXES)}")
    return reader(data, name, limits)
