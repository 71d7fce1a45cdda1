"""One rule for text crossing a boundary: the model, the ledger, the terminal, status.txt.

The escape form is the same everywhere: `\\xHH` for a byte or a character up to U+00FF,
`\\uXXXX` for any other character. What is escaped depends on the boundary:

- escape_surrogates: text that is not valid Unicode (a file name decoded with
  surrogateescape, a lone surrogate in a model reply) becomes encodable. An undecodable
  byte (U+DC80-U+DCFF) is shown as the byte, `caf\\xe9.txt`; any other lone surrogate as
  `\\ud800`. One-way: backslashes are left alone, so code and Windows paths read as sent.
- escape_name / unescape_name: a file name, shown and taken back. Also escapes control
  characters (as their UTF-8 bytes) and doubles a literal backslash, so the form is
  unambiguous and unescape_name maps it back to the same os.fsencode bytes.
- for_terminal: model-controlled text before it reaches a terminal. Every control
  character (C0, DEL, C1: ESC, so no OSC 52, title or screen-clear sequence survives) and
  every format character (Unicode category Cf: zero-width spaces and joiners, U+2060,
  the BOM, the soft hyphen, tag characters, bidi controls) and line-separator control is
  escaped; newlines and tabs are kept only where output is meant to be several lines. A
  character above U+FFFF is shown as `\\UXXXXXXXX`.
- name_marks: why a file name may not be the one a person thinks it is: it mixes scripts
  (Latin with Cyrillic or Greek letters) or it differs from an existing name only by
  invisible or confusable characters. The confusables fold is deliberately small: the
  Cyrillic and Greek letters that look like Latin ones, and the format characters.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

# Every format character (category Cf, Unicode 15.1): bidi controls reorder a line (Trojan
# Source), zero-width ones hide inside a name (`check\u200b.py` reads as `check.py`), tag
# characters carry invisible text. Listed, not computed: scanning all of Unicode at import
# costs a tenth of a second per command; a test checks the list against unicodedata.
_FORMAT = (0x00AD, *range(0x0600, 0x0606), 0x061C, 0x06DD, 0x070F, 0x0890, 0x0891, 0x08E2,
           0x180E, *range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2060, 0x2065),
           *range(0x2066, 0x2070), 0xFEFF, *range(0xFFF9, 0xFFFC), 0x110BD, 0x110CD,
           *range(0x13430, 0x13441), *range(0x1BCA0, 0x1BCA4), *range(0x1D173, 0x1D17B),
           0xE0001, *range(0xE0020, 0xE0080))
# Line and paragraph separators break a line as a newline does.
_INVISIBLE = (*_FORMAT, 0x2028, 0x2029)
_NAME_ESCAPE = re.compile(r"\\(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|(\\))")


def _code(number: int) -> str:
    if number > 0xFFFF:  # `\\u` takes four digits: a fifth would read as a character
        return f"\\U{number:08x}"
    return f"\\x{number:02x}" if number <= 0xFF else f"\\u{number:04x}"


def _surrogate(char: str) -> str:
    number = ord(char)
    return f"\\x{number - 0xDC00:02x}" if 0xDC80 <= number <= 0xDCFF else f"\\u{number:04x}"


_SURROGATE = re.compile("[\ud800-\udfff]")


def escape_surrogates(text: str) -> str:
    """`text` with every lone surrogate escaped, so it always encodes to UTF-8."""
    return _SURROGATE.sub(lambda m: _surrogate(m.group()), text)


def json_safe(value: Any) -> Any:
    """`value` (JSON-like) with escape_surrogates applied to every string, keys included."""
    if isinstance(value, str):
        return escape_surrogates(value)
    if isinstance(value, dict):
        return {json_safe(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def _terminal_table(multiline: bool) -> dict[int, str]:
    codes = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), *_INVISIBLE]
    kept = (0x0A, 0x09) if multiline else ()
    return {code: _code(code) for code in codes if code not in kept}


_ONE_LINE = _terminal_table(multiline=False)
_MULTILINE = _terminal_table(multiline=True)


def for_terminal(text: object, multiline: bool = False) -> str:
    """`text` safe to print: no control character reaches the terminal, only its escape."""
    return escape_surrogates(str(text)).translate(_MULTILINE if multiline else _ONE_LINE)


def _name_char(char: str) -> str:
    number = ord(char)
    if char == "\\":
        return "\\\\"
    if 0xD800 <= number <= 0xDFFF:
        return _surrogate(char)
    if number < 0x20 or 0x7F <= number < 0xA0:
        return "".join(f"\\x{byte:02x}" for byte in char.encode("utf-8"))
    return char


def escape_name(name: str) -> str:
    """A file name (or relative path) as Jetbox shows it: printable, valid UTF-8, reversible."""
    return "".join(_name_char(char) for char in name)


def unescape_name(text: str) -> str:
    """The name escape_name showed as `text`: `\\xHH` bytes decoded like os.fsdecode,
    `\\\\` a backslash. Raises ValueError for any other backslash."""
    out: list[str] = []
    pending = bytearray()
    position = 0
    for match in _NAME_ESCAPE.finditer(text):
        literal = text[position:match.start()]
        if "\\" in literal:
            raise ValueError(f"{text!r}: a backslash must start \\xHH, \\uXXXX or \\\\")
        if literal:
            out.append(pending.decode("utf-8", "surrogateescape") + literal)
            pending.clear()
        if match.group(1):
            pending.append(int(match.group(1), 16))
        else:
            out.append(pending.decode("utf-8", "surrogateescape")
                       + (chr(int(match.group(2), 16)) if match.group(2) else "\\"))
            pending.clear()
        position = match.end()
    rest = text[position:]
    if "\\" in rest:
        raise ValueError(f"{text!r}: a backslash must start \\xHH, \\uXXXX or \\\\")
    return "".join(out) + pending.decode("utf-8", "surrogateescape") + rest


# Cyrillic and Greek letters a person reads as Latin ones (a small fold, not Unicode's whole
# confusables table: these are the lookalikes a model can put in a Python project's names).
_CONFUSABLE = str.maketrans(
    "аеорсуххіјѕԁһӏԛԝвкмнтАВЕКМНОРСТХІЈЅУ"
    "αβεικνορτυχΑΒΕΗΙΚΜΝΟΡΤΥΧΖ",
    "aeopcyxxijsdhlqwbkmhtABEKMHOPCTXIJSY"
    "aBeikvoptuxABEHIKMNOPTYXZ")
_FOLD_DROP = {code: None for code in _INVISIBLE}
_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK")
_WORDS = re.compile(r"[\W\d_]+")


def confusable_fold(name: str) -> str:
    """`name` as a person reads it: format characters dropped, lookalikes made Latin."""
    return name.translate(_FOLD_DROP).translate(_CONFUSABLE)


def scripts_of(name: str) -> list[str]:
    """The scripts (Latin, Cyrillic, Greek) of the letters in `name`, Latin first."""
    found: list[str] = []
    for char in name:
        if char.isalpha() and not char.isascii():
            script = unicodedata.name(char, "").split(" ", 1)[0]
        else:
            script = "LATIN" if char.isascii() and char.isalpha() else ""
        if script in _SCRIPTS and script.title() not in found:
            found.append(script.title())
    return sorted(found, key=lambda s: _SCRIPTS.index(s.upper()))


def name_marks(path: str, existing: Iterable[str] = ()) -> list[str]:
    """Why `path` (a relative name from the model) may not be what a person reads: a part
    of it mixes scripts, or it differs from an existing name only by invisible or
    confusable characters. Each mark is one line, the names escaped for a terminal."""
    marks = []
    # Word by word: `тест.py` is a Cyrillic name with a Latin extension, `chеck.py` a trap.
    for part in _WORDS.split(path):
        scripts = scripts_of(part)
        if len(scripts) > 1:
            foreign = ", ".join(dict.fromkeys(
                f"\\u{ord(c):04x} {unicodedata.name(c, '?').lower()}" for c in part
                if c.isalpha() and not c.isascii()
                and not unicodedata.name(c, "").startswith("LATIN")))
            marks.append(f"! {for_terminal(path)}: the word `{for_terminal(part)}` mixes "
                         f"scripts ({' + '.join(scripts)}: {foreign})")
            break
    folded = confusable_fold(path)
    for other in existing:
        if other != path and confusable_fold(other) == folded:
            marks.append(f"! {for_terminal(path)} is not the existing {for_terminal(other)}:"
                         f" they differ only by invisible or lookalike characters")
            break
    if not marks and path != path.translate(_FOLD_DROP):
        marks.append(f"! {for_terminal(path)} holds invisible format characters")
    return marks


def counted(n: int, noun: str, plural: str = "") -> str:
    """`1 call`, `2 calls`: a count a person reads. `plural` for nouns that do not just
    take an s; several words pluralize their first (`1 file written`, `2 files written`)."""
    if n == 1:
        return f"{n} {noun}"
    first, _, rest = noun.partition(" ")
    return f"{n} {plural or first + 's'}" + (f" {rest}" if rest and not plural else "")
