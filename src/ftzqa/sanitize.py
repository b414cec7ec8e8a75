"""Make text safe to show: no terminal control sequences, no lone surrogates, no server paths.

Documents and questions are untrusted. Printed to a terminal, an escape sequence in a passage can
retitle the window or clear the screen, and a bidi override can reorder what the reader sees; in
JSON, a lone surrogate cannot be encoded at all. Error messages shown on the web page must not
reveal where the server keeps its files. Every function here is linear in the length of the text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

# CSI: ESC [ parameters intermediates final; OSC: ESC ] text (BEL | ESC \). The character classes
# of adjacent quantifiers are disjoint and each run stops at the next ESC, so matching is linear.
_CSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]?")
_OSC = re.compile(r"\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?")
_BIDI = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
_C1 = (0x7F, *range(0x80, 0xA0))
# removed outright: C0 controls except tab and newline, DEL, C1 controls, bidi controls
_DROP: dict[int, None] = {c: None for c in (*range(0x20), *_C1, *_BIDI) if c not in (0x09, 0x0A)}
# in JSON these stay exact but are written as \u escapes (json escapes C0 itself)
_JSON_ESCAPE: dict[int, str] = {c: f"\\u{c:04x}" for c in (*_C1, *_BIDI)}


def terminal_safe(text: str) -> str:
    """``text`` without escape sequences, control characters (tab and newline kept) or bidi controls."""
    if "\x1b" in text:
        text = _CSI.sub("", _OSC.sub("", text))
    return text.translate(_DROP)


def one_line(text: str) -> str:
    """``terminal_safe`` on one line (for error messages)."""
    return " ".join(terminal_safe(text).split("\n")).replace("\t", " ")


def json_safe(dumped: str) -> str:
    """JSON text with C1 and bidi controls written as \\u escapes: the same data, safe on a terminal."""
    return dumped.translate(_JSON_ESCAPE)


def without_surrogates(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD (a valid pair becomes its character)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


# an absolute path: "/" at the start or after a space, quote or bracket, up to a space or quote
_ABSOLUTE = re.compile(r"(?:^|(?<=[\s'\"(\[=]))/[^\s'\"()\[\],;]*")


def redact_paths(text: str, known: Mapping[str | Path, str]) -> str:
    """``text`` with server paths hidden: each ``known`` folder (absolute or as given) becomes its
    short name, and any other absolute path becomes its last part."""
    pairs: dict[str, str] = {}
    for folder, name in known.items():
        path = Path(folder)
        for form in {str(path.absolute()), str(path.resolve())}:
            if form != "/":
                pairs[form] = name
    for form in sorted(pairs, key=len, reverse=True):
        text = text.replace(form, pairs[form])
    return _ABSOLUTE.sub(lambda m: Path(m.group()).name or "/", text)
