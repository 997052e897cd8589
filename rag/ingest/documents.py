"""PDF and Word files as articles: press releases arrive as PDFs, colleagues send .docx.

PDF text comes from pypdf in reading order (its layout mode keeps a two-column page's columns
apart instead of interleaving their lines); a PDF with no text layer (a scan) or one that needs
a password is refused with one line saying so. Word text comes from python-docx, paragraph by
paragraph, tables' cells after. Each file's own metadata (title, author, date) is used where the
text does not say.
"""

from __future__ import annotations

import io
import logging
import re
from typing import Any

from rag.errors import InputError, MissingExtra

Read = tuple[dict[str, Any], str]  # a document's metadata and its text


def intake(module: str) -> Any:
    """An intake library (pypdf, python-docx, httpx, feedparser, datasketch), or the error
    naming the extra that installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(module, "intake") from None


def pdf_text(data: bytes, source: str) -> Read:
    pypdf = intake("pypdf")
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its repair notes are not our output
    PdfReadError = pypdf.errors.PdfReadError

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise InputError(f"{source}: the PDF is encrypted; save an unlocked copy and add that")
        pages = [_page_text(page) for page in reader.pages]
    except PdfReadError as err:
        raise InputError(f"{source}: not a readable PDF ({err})") from err
    text = "\n\n".join(p for p in pages if p.strip())
    if not text.strip():
        raise InputError(
            f"{source}: the PDF has no text layer (a scan?); run OCR on it first, then add it"
        )
    info = reader.metadata or {}
    meta: dict[str, Any] = {
        "title": _clean(info.get("/Title")),
        "author": _clean(info.get("/Author")),
        "date": _pdf_date(info.get("/CreationDate")),
    }
    return {k: v for k, v in meta.items() if v}, text


def _page_text(page: Any) -> str:
    """A page's text column by column: layout mode places each line where it stands, so two
    columns come out side by side; they are split at the gap between them and read in turn."""
    laid = page.extract_text(extraction_mode="layout") or ""
    columns = _columns(laid.splitlines())
    text = "\n".join(columns) if columns else (page.extract_text() or "")
    return _paragraphs(text)


def _columns(lines: list[str]) -> list[str]:
    """Lines of a two-column layout, left column first; [] when there is no clear gutter."""
    body = [line for line in lines if line.strip()]
    if len(body) < 4:
        return []
    width = max(len(line) for line in body)
    blank = [all(i >= len(line) or line[i] == " " for line in body) for i in range(width)]
    gutter = _widest_gap(blank, width)
    if gutter is None:
        return []
    left = [line[:gutter].strip() for line in body]
    right = [line[gutter:].strip() for line in body]
    return [line for line in left if line] + [line for line in right if line]


def _widest_gap(blank: list[bool], width: int) -> int | None:
    """The middle of the widest run of blank columns in the middle third of the page."""
    best: tuple[int, int] | None = None
    start = None
    for i in range(width + 1):
        if i < width and blank[i]:
            start = i if start is None else start
            continue
        middle = start is not None and width // 3 <= (start + i) // 2 <= 2 * width // 3
        if middle and start is not None and (best is None or i - start > best[1] - best[0]):
            best = (start, i)
        start = None
    if best is None or best[1] - best[0] < 3:
        return None
    return (best[0] + best[1]) // 2


def _paragraphs(text: str) -> str:
    """Lines joined into paragraphs: a line ending a sentence, or before a blank, ends one."""
    out: list[str] = []
    for line in (raw.strip() for raw in text.splitlines()):
        if not line:
            out.append("")
        elif out and out[-1] and not re.search(r"[.!?。！？:]$", out[-1]):
            out[-1] = (
                f"{out[-1]} {line}".replace("- ", "-")
                if out[-1].endswith("-")
                else f"{out[-1]} {line}"
            )
        else:
            out.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def _clean(value: Any) -> str | None:
    text = str(value).strip() if value else ""
    return text or None


def _pdf_date(value: Any) -> str | None:
    """`D:20260110...` as 2026-01-10."""
    match = re.match(r"D?:?(\d{4})(\d\d)(\d\d)", str(value or ""))
    return f"{match.group(1)}-{match.group(2)}-{match.group(3)}" if match else None


def docx_text(data: bytes, source: str) -> Read:
    docx = intake("docx")
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as err:  # python-docx raises zipfile, KeyError or its own errors
        raise InputError(
            f"{source}: not a readable Word (.docx) file ({type(err).__name__})"
        ) from err
    paragraphs = [p.text.strip() for p in document.paragraphs if p.text.strip()]
    cells = [
        c.text.strip() for t in document.tables for r in t.rows for c in r.cells if c.text.strip()
    ]
    text = "\n\n".join(paragraphs + list(dict.fromkeys(cells)))
    props = document.core_properties
    meta = {
        "title": _clean(props.title),
        "author": _clean(props.author),
        "date": props.created.date().isoformat() if props.created else None,
    }
    return {k: v for k, v in meta.items() if v}, text
