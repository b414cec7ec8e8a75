"""Builders for hostile files (decompression bombs, malformed archives and PDFs), made in memory.

Used by tests/test_hostile_files.py with small sizes and by bench/hostile.py with the sizes from
the issue. Every builder is deterministic and fast: bombs are made by repeating one compressed
block (a raw deflate stream may be a sequence of independently compressed, fully flushed blocks),
so a 4 GB member costs a few MB and a few seconds to write.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

PARAGRAPH = b"<w:p><w:r><w:t>Zone trade rose again this year in every port.</w:t></w:r></w:p>"
DOCUMENT_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
)
DOCUMENT_TAIL = b"</w:body></w:document>"
# compresses about 1000:1 (deflate's best): 4,000 MB of it fit in a 4 MB file
BIG_BLOCK = (b"<w:p><w:r><w:t>" + b"a" * 65_000 + b"</w:t></w:r></w:p>") * 16


def plain_docx(paragraphs: list[str]) -> bytes:
    """A real .docx (python-docx) with one paragraph per string."""
    import docx

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _deflate_repeated(head: bytes, block: bytes, count: int, tail: bytes) -> tuple[bytes, int, int]:
    """Raw deflate of head + block * count + tail without materialising it: (data, crc, size)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    middle = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    last = c.compress(tail) + c.flush(zlib.Z_FINISH)
    crc = zlib.crc32(head)
    for _ in range(count):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(tail, crc)
    size = len(head) + len(block) * count + len(tail)
    return first + middle * count + last, crc, size


def _zip(entries: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A zip from (name, stored bytes, method, crc, uncompressed size); sizes must be < 4 GiB."""
    out = io.BytesIO()
    central = []
    for name, stored, method, crc, size in entries:
        offset = out.tell()
        raw_name = name.encode()
        out.write(
            struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc, len(stored), size, len(raw_name), 0)
        )
        out.write(raw_name)
        out.write(stored)
        central.append(
            struct.pack(
                "<4s6H3L5H2L",
                b"PK\x01\x02",
                20,
                20,
                0,
                method,
                0,
                0x21,
                crc,
                len(stored),
                size,
                len(raw_name),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + raw_name
        )
    start = out.tell()
    for record in central:
        out.write(record)
    end = out.tell()
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(central), len(central), end - start, start, 0))
    return out.getvalue()


def docx_bomb(expanded_bytes: int, block: bytes = PARAGRAPH * 12_000) -> bytes:
    """A valid .docx whose word/document.xml expands to about ``expanded_bytes`` of paragraphs."""
    entries = []
    for name, data in _members(plain_docx(["placeholder"])).items():
        if name == "word/document.xml":
            count = max(1, expanded_bytes // len(block))
            stored, crc, size = _deflate_repeated(DOCUMENT_HEAD, block, count, DOCUMENT_TAIL)
        else:
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            stored, crc, size = c.compress(data) + c.flush(), zlib.crc32(data), len(data)
        entries.append((name, stored, zipfile.ZIP_DEFLATED, crc, size))
    return _zip(entries)


def docx_claiming(claimed_bytes: int) -> bytes:
    """A small .docx whose central directory says word/document.xml is ``claimed_bytes`` long."""
    data = bytearray(plain_docx(["A short document."]))
    end = data.rfind(b"PK\x05\x06")
    cd_offset = struct.unpack_from("<L", data, end + 16)[0]
    pos = cd_offset
    while data[pos : pos + 4] == b"PK\x01\x02":
        name_len, extra_len, comment_len = struct.unpack_from("<3H", data, pos + 28)
        name = bytes(data[pos + 46 : pos + 46 + name_len])
        if name == b"word/document.xml":
            struct.pack_into("<L", data, pos + 24, claimed_bytes)
        pos += 46 + name_len + extra_len + comment_len
    return bytes(data)


def docx_malformed_xml() -> bytes:
    """A .docx whose word/document.xml is not well-formed XML."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in _members(plain_docx(["x"])).items():
            zf.writestr(name, b"<w:document><w:body><w:p>unclosed" if name == "word/document.xml" else data)
    return out.getvalue()


def docx_many_members(count: int) -> bytes:
    """A .docx padded with ``count`` tiny extra members."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in _members(plain_docx(["x"])).items():
            zf.writestr(name, data)
        for i in range(count):
            zf.writestr(f"padding/item{i}.xml", b"<a/>")
    return out.getvalue()


def _pdf(objects: list[bytes]) -> bytes:
    """A PDF from object bodies (object 1 is the catalog), with a correct xref table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def _stream(data: bytes, flate: bool = False) -> bytes:
    if flate:
        data = zlib.compress(data, 9)
        return b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream"
    return b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def pdf_page_tree_bomb(levels: int = 8, fanout: int = 10, declared: int | None = None) -> bytes:
    """A tiny PDF whose page tree reaches ``fanout ** levels`` pages by reusing one node per level.

    ``declared`` sets the root's /Count (default: the true total, 10^8 for the defaults).
    """
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    for level in range(levels):
        number = 2 + level
        child = number + 1
        count = declared if (level == 0 and declared is not None) else fanout ** (levels - level)
        parent = b"" if level == 0 else b" /Parent %d 0 R" % (number - 1)
        kids = b" ".join([b"%d 0 R" % child] * fanout)
        objects.append(b"<< /Type /Pages%s /Count %d /Kids [%s] >>" % (parent, count, kids))
    page, contents, font = 2 + levels, 3 + levels, 4 + levels
    objects.append(
        b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R"
        b" /Resources << /Font << /F1 %d 0 R >> >> >>" % (page - 1, contents, font)
    )
    objects.append(_stream(b"BT /F1 12 Tf 72 720 Td (Page text) Tj ET"))
    objects.append(FONT)
    return _pdf(objects)


def pdf_flate_bomb(expanded_bytes: int) -> bytes:
    """A one-page PDF whose content stream inflates to ``expanded_bytes`` (spaces, then text)."""
    content = b" " * expanded_bytes + b"BT /F1 12 Tf 72 720 Td (Bomb) Tj ET"
    return _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Count 1 /Kids [3 0 R] >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
            b" /Resources << /Font << /F1 5 0 R >> >> >>",
            _stream(content, flate=True),
            FONT,
        ]
    )


def pdf_text(pages: list[str]) -> bytes:
    """A plain PDF with one line of text per page (no fpdf needed)."""
    n = len(pages)
    kids = b" ".join(b"%d 0 R" % (3 + 2 * i) for i in range(n))
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Count %d /Kids [%s] >>" % (n, kids),
    ]
    font = 3 + 2 * n
    for i, text in enumerate(pages):
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("latin-1")
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R"
            b" /Resources << /Font << /F1 %d 0 R >> >> >>" % (4 + 2 * i, font)
        )
        objects.append(_stream(b"BT /F1 12 Tf 72 720 Td (" + escaped + b") Tj ET"))
    objects.append(FONT)
    return _pdf(objects)


def pdf_slow(operations: int) -> bytes:
    """A one-page PDF with ``operations`` text-showing operators (slow to extract, small on disk)."""
    content = b"BT /F1 12 Tf 72 720 Td " + b"(a) Tj " * operations + b"ET"
    return _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Count 1 /Kids [3 0 R] >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
            b" /Resources << /Font << /F1 5 0 R >> >> >>",
            _stream(content, flate=True),
            FONT,
        ]
    )


def html_deeply_nested(depth: int) -> bytes:
    """An HTML page nested ``depth`` <div>s deep around a short article."""
    article = b"<p>" + b"The port handled more cargo this year than ever before. " * 5 + b"</p>"
    return b"<html><body>" + b"<div>" * depth + article + b"</div>" * depth + b"</body></html>"
