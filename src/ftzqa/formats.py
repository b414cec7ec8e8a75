"""Extract indexable text from each supported file format.

Every reader returns plain text in which paragraphs are separated by blank lines and headings
are Markdown ``#`` lines, so the chunker treats all formats alike and offsets point into this
extracted text. PDF pages become ``## Page N`` headings, so citations name the page.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import CorpusError

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


def read_text(data: bytes, name: str) -> Extracted:
    return Extracted(_normalise(decode_text(data, name)))


def read_html(data: bytes, name: str) -> Extracted:
    import trafilatura

    html = data.decode("utf-8", errors="replace")
    text = trafilatura.extract(html, output_format="markdown", include_comments=False, include_images=False)
    if not text or len(text.split()) < MIN_HTML_WORDS:  # a lone menu word is not an article
        raise CorpusError(f"{name}: no main text found in this HTML page; save the article text as .txt or .md")
    meta = trafilatura.extract_metadata(html)
    fields = {}
    if meta is not None:
        for key in ("title", "author", "date", "sitename"):
            value = getattr(meta, key, None)
            if value:
                fields["source" if key == "sitename" else key] = str(value)
    return Extracted(_normalise(text), fields)


def read_pdf(data: bytes, name: str) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise CorpusError(f"{name}: the PDF is encrypted; save an unencrypted copy and add that")
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
    except CorpusError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise CorpusError(f"{name}: cannot read this PDF ({type(exc).__name__}: {exc}); check the file") from None
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


def _pdf_paragraphs(page: str) -> str:
    """Join hard-wrapped lines; keep blank-line paragraph breaks; drop a leading '#'."""
    paragraphs = re.split(r"\n[ \t]*\n", _normalise(page))
    out = []
    for para in paragraphs:
        joined = " ".join(line.strip() for line in para.splitlines() if line.strip())
        if joined:
            out.append(joined.lstrip("#").strip() or joined)
    return "\n\n".join(out)


def read_docx(data: bytes, name: str) -> Extracted:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, KeyError, ValueError, OSError) as exc:
        raise CorpusError(f"{name}: cannot read this .docx ({type(exc).__name__}); check the file") from None
    parts = []
    fields: dict[str, str] = {}
    for para in document.paragraphs:
        text = " ".join(para.text.split())
        if not text:
            continue
        style = (para.style.name if para.style is not None else "") or ""
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
    return Extracted("\n\n".join(parts) + "\n", fields)


READERS: dict[str, Callable[[bytes, str], Extracted]] = {
    ".md": read_text,
    ".markdown": read_text,
    ".txt": read_text,
    ".html": read_html,
    ".htm": read_html,
    ".pdf": read_pdf,
    ".docx": read_docx,
}


def extract(data: bytes, name: str) -> Extracted:
    """Text and metadata of a file, by its extension."""
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    reader = READERS.get(suffix)
    if reader is None:
        raise CorpusError(f"{name}: unsupported file type {suffix or '(none)'!r}; supported: {', '.join(SUFFIXES)}")
    return reader(data, name)
