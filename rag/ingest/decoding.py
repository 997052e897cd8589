"""Bytes to text for article files that are not always UTF-8: a GBK page saved on a Chinese
Windows machine, a Latin-1 German export, a UTF-16 file from Excel.

The order is what is cheapest and surest first: a size check before anything is read, a byte
order mark, UTF-16 without one (told by where its zero bytes fall), the file's bytes sniffed
for binary data, strict UTF-8, UTF-8 with a few broken bytes, then charset detection
(charset-normalizer) restricted to the legacy encodings news in our languages and their
neighbours comes in, each decoding checked for control characters.
What passes none of these is refused with a reason, never decoded into mojibake.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from pathlib import Path

from rag.config import InputLimits
from rag.errors import InputError

# Longest first: UTF-32-LE's mark starts with UTF-16-LE's.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_MAGIC = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF-", "a PDF"),
    (b"PK\x03\x04", "a ZIP archive or Office document"),
    (b"\x1f\x8b", "gzip-compressed"),
    (b"\x7fELF", "a program"),
)
# Legacy encodings tried by detection, in the order that wins a tie: a short GBK line is as
# clean in Korean cp949 as in GB18030, and our articles are Chinese, not Korean. Supersets
# stand for their base (GB18030 for GB2312/GBK, cp932 for Shift-JIS, cp1252 for Latin-1).
CANDIDATES = ("gb18030", "big5", "cp932", "euc_jp", "cp949", "cp1252", "cp1251")
_NAMES = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with BOM",
    "utf-16": "UTF-16",
    "utf-16-le": "UTF-16LE (no BOM)",
    "utf-16-be": "UTF-16BE (no BOM)",
    "utf-32": "UTF-32",
    "gb18030": "GB18030",
    "big5": "Big5",
    "cp932": "Shift-JIS",
    "euc_jp": "EUC-JP",
    "cp949": "EUC-KR",
    "cp1252": "Windows-1252",
    "cp1251": "Windows-1251",
}
_TEXT_CONTROLS = frozenset("\t\n\r\f\v\x1b")
# Control characters but the ones in _TEXT_CONTROLS, private use areas, lone surrogates.
_ODD = re.compile(
    "[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f-\x9f\ud800-\udfff\ue000-\uf8ff\U000f0000-\U0010ffff]"
)
_SNIFF_BYTES = 8192


@dataclass(frozen=True)
class Decoded:
    """A file's text, and the encoding it was read in (a readable name, for reports)."""

    text: str
    encoding: str

    @property
    def is_utf8(self) -> bool:
        """Plain UTF-8, BOM or not: nothing worth telling the user about."""
        return self.encoding in ("UTF-8", "UTF-8 with BOM")


def read_text(path: Path, limits: InputLimits) -> Decoded:
    """The file's text with newlines normalised; an InputError naming `path` and the reason
    when it is too large, empty, binary or in no encoding we can tell."""
    try:
        size = path.stat().st_size
        if size > limits.max_file_bytes:
            raise InputError(
                f"{path} is {_size(size)}; files over {_size(limits.max_file_bytes)} are not read "
                "(split it into smaller files)"
            )
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror or err}") from None
    if not data:
        raise InputError(f"{path} is empty (0 bytes)")
    decoded = decode(data)
    if decoded is None:
        raise InputError(_refusal(path, data))
    text = decoded.text.replace("\r\n", "\n").replace("\r", "\n")
    return Decoded(text, decoded.encoding)


def decode(data: bytes) -> Decoded | None:
    """`data` as text, or None when it is binary or in no encoding we can tell."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return _checked(data, codec)
    bomless = _bomless_utf16(data)
    if bomless is not None:
        return _checked(data, bomless)
    if _binary_kind(data) is not None:
        return None
    return (
        _checked(data, "utf-8")
        or _mostly_utf8(data, good_per_bad=20)
        or _detected(data)
        or _mostly_utf8(data, good_per_bad=2)  # the last resort: detection found nothing clean
    )


def _bomless_utf16(data: bytes) -> str | None:
    """ "utf-16-le" or "utf-16-be" for UTF-16 saved without its BOM, else None. Such text has
    a zero byte in every ASCII character (Latin letters, digits, spaces, newlines: even a
    Chinese article has some), nearly always at the same place in the pair; binary data has
    zeros on both sides, or zero bytes beside values that are not printable ASCII. What this lets through is still decoded strictly and checked for control and
    private-use characters, which random 16-bit values are full of."""
    head = data[: _SNIFF_BYTES - _SNIFF_BYTES % 2]
    if len(data) % 2 or len(head) < 4:
        return None
    low, high = head[0::2], head[1::2]  # little-endian: the high byte comes second
    # a zero low byte is rare in text (一 is U+4E00), as common as a zero high byte in binary
    if _ascii_text_in(low, high) and low.count(0) * 10 <= high.count(0):
        return "utf-16-le"
    if _ascii_text_in(high, low) and high.count(0) * 10 <= low.count(0):
        return "utf-16-be"
    return None


def _ascii_text_in(low: bytes, high: bytes) -> bool:
    """Whether the characters whose high byte is zero are numerous (at least 4, and 1 in 100)
    and nearly all (9 in 10) printable ASCII or line breaks, as in text."""
    ascii_bytes = [lo for lo, hi in zip(low, high, strict=True) if hi == 0]
    texty = sum(1 for b in ascii_bytes if 0x20 <= b < 0x7F or b in (0x09, 0x0A, 0x0D))
    return len(ascii_bytes) >= max(4, len(low) // 100) and texty * 10 >= len(ascii_bytes) * 9


def _checked(data: bytes, codec: str) -> Decoded | None:
    """Strictly decoded; None when it does not decode (or a BOM lies) or the text holds
    control or unassigned characters that no article has."""
    try:
        text = data.decode(codec)
    except UnicodeDecodeError:
        return None
    return Decoded(text.lstrip("\ufeff"), _NAMES[codec]) if _looks_like_text(text) else None


def _looks_like_text(text: str) -> bool:
    """No more than 1 in 200 characters a control, private-use or surrogate code point: a
    wrong decoding of legacy bytes (or binary data) is full of them."""
    return len(_ODD.findall(text)) * 200 <= len(text)


def _binary_kind(data: bytes) -> str | None:
    """What binary data this looks like ("a PNG image", "binary data"), or None for text."""
    kind = next((name for magic, name in _MAGIC if data.startswith(magic)), None)
    head = data[:_SNIFF_BYTES]
    controls = sum(1 for b in head if b < 0x20 and chr(b) not in _TEXT_CONTROLS)
    if kind is None and (b"\x00" in head or controls * 100 > len(head)):
        kind = "binary data"
    return kind


def _mostly_utf8(data: bytes, good_per_bad: int) -> Decoded | None:
    """UTF-8 with a few broken bytes (a Latin-1 word pasted in, a cut-off character) keeps its
    good characters; the broken bytes become U+FFFD. Latin-1 never forms valid multi-byte
    UTF-8 and GBK seldom does, so `good_per_bad` valid non-ASCII characters per bad byte tell
    them apart: 20 before detection is asked (GBK's accidental UTF-8 stays far below it), 2
    when detection found nothing clean."""
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = len(text) - len(text.encode("ascii", errors="ignore")) - bad
    if good < good_per_bad * bad or not _looks_like_text(text):
        return None
    return Decoded(text, f"UTF-8 ({bad} undecodable byte{'s' * (bad != 1)} replaced)")


def _detected(data: bytes) -> Decoded | None:
    """charset-normalizer's choice among CANDIDATES, ties broken by their order."""
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data, cp_isolation=list(CANDIDATES)))
    if not matches:
        return None
    least = min(m.chaos for m in matches)
    tied = [m.encoding for m in matches if m.chaos <= least + 0.01]
    for codec in sorted(tied, key=lambda c: CANDIDATES.index(c) if c in CANDIDATES else 99):
        decoded = _checked(data, codec) if codec in _NAMES else None
        if decoded is not None:
            return decoded
    return None


def _refusal(path: Path, data: bytes) -> str:
    kind = _binary_kind(data)
    if kind is not None:
        what = "" if kind == "binary data" else f" ({kind})"
        return f"{path} is a binary file{what}, not an article (expected text, HTML or JSON)"
    tried = ", ".join(dict.fromkeys(_NAMES[c] for c in ("utf-8", "utf-16", *CANDIDATES)))
    return f"{path} is not text in any encoding I can tell (tried {tried}); save it as UTF-8"


def _size(size: int) -> str:
    if size < 1_000:
        return f"{size} bytes"
    return f"{size / 1_000:.1f} kB" if size < 1_000_000 else f"{size / 1_000_000:.1f} MB"
