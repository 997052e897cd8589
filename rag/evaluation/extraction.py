"""`rag eval-extraction`: how much of an article a page's extraction keeps, and how much page
furniture comes with it, on hand-written news pages (`eval/pages/`: each page's HTML and the
article's sentences and the furniture on it, in five languages).

- **kept**: the share of the article's sentences found in the extracted text;
- **boilerplate**: the share of the extracted text's sentences that are furniture (they hold a
  furniture string, or one holds them, and they are no article sentence). The output is split
  into its lines (blocks) before sentences, as the set's README asks: a menu label or a caption
  without a full stop would otherwise run into the next block and be hidden inside an article
  sentence.

Measured for what `rag ingest URL` ships (trafilatura between the furniture passes of
`rag.ingest.furniture`), for trafilatura alone, for the selectolax reader `rag ingest` used for
local .html files before, and for justext and readability when they are installed.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import InputError

PAGES = Path(__file__).resolve().parents[2] / "eval" / "pages"


def _norm(text: str) -> str:
    return " ".join(html.unescape(text).split())


@dataclass
class PageScore:
    page: str
    lang: str
    sentences: int
    kept: int
    extracted: int  # sentences in the extracted text
    furniture: int  # of them, furniture

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def score_page(page: Path, extract: Callable[[str], str]) -> PageScore:
    from rag.ingest.text import CleanText, split_sentences

    try:
        truth = json.loads(page.with_suffix(".json").read_text("utf-8"))
        markup = page.read_text("utf-8")
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read the test page {page}: {err}") from err
    output = extract(markup)
    text = _norm(output)
    article = [_norm(s) for s in truth["sentences"]]
    furniture = [_norm(b) for b in truth["boilerplate"] if _norm(b)]
    kept = sum(1 for s in article if s in text)
    extracted = [
        _norm(s.text)
        for block in output.splitlines() if _norm(block)
        for s in split_sentences(CleanText.build(_norm(block), []), truth["lang"])
    ]  # fmt: skip
    extracted = [s for s in extracted if s]
    junk = sum(
        1 for s in extracted
        if not any(s in a or a in s for a in article) and any(b in s or s in b for b in furniture)
    )  # fmt: skip
    return PageScore(page.stem, truth["lang"], len(article), kept, len(extracted), junk)


def extractors() -> dict[str, Callable[[str], str]]:
    """What `rag ingest URL` ships (trafilatura inside the furniture passes), trafilatura alone,
    the selectolax reader used before, and justext and readability where they are installed
    (the issue's other candidates; not dependencies of the product)."""
    from rag.ingest import pages

    found = {
        "shipped": lambda markup: pages.extract_page(markup, "https://example.invalid/a")[1],
        "trafilatura alone": _trafilatura_alone,
        "selectolax (before)": _selectolax_before,
    }
    for name, extract in (("justext", _justext), ("readability", _readability)):
        try:
            extract("<html><body><p>Probe sentence here.</p></body></html>")
        except ImportError:
            continue
        found[name] = extract
    return found


def _selectolax_before(html: str) -> str:
    """The reader `rag ingest` used for .html files before: the <article> (or <body>) text
    with a few furniture tags stripped. Kept here only as the baseline."""
    from selectolax.lexbor import LexborHTMLParser as HTMLParser

    tree = HTMLParser(html)
    tree.strip_tags(["script", "style", "noscript", "nav", "footer", "aside", "form", "header"])
    body = tree.css_first("article") or tree.body or tree.root
    text = body.text(separator="\n", strip=True) if body is not None else ""
    return text


def _trafilatura_alone(markup: str) -> str:
    import trafilatura

    doc = trafilatura.bare_extraction(
        markup, url="https://example.invalid/a", include_comments=False, include_tables=False,
        include_images=False, deduplicate=False,
    )  # fmt: skip
    return getattr(doc, "text", None) or ""


_JUSTEXT_STOPLISTS = {"en": "English", "es": "Spanish", "de": "German", "fr": "French"}


def _justext(markup: str) -> str:
    import re

    import justext

    found = re.search(r"<html[^>]*\blang=[\"']?([a-zA-Z]{2})", markup)
    stoplist = _JUSTEXT_STOPLISTS.get(found.group(1).lower() if found else "en")
    words = justext.get_stoplist(stoplist) if stoplist else frozenset()
    tuning = {} if words else {"stopwords_low": 0, "stopwords_high": 0}  # no list for Chinese
    paragraphs = justext.justext(markup.encode("utf-8"), words, **tuning)
    return "\n".join(p.text for p in paragraphs if not p.is_boilerplate)


def _readability(markup: str) -> str:
    import lxml.html
    from readability import Document

    summary = lxml.html.fromstring(Document(markup).summary(html_partial=True))
    blocks = summary.xpath("//p|//h1|//h2|//h3|//li|//blockquote")
    return "\n".join(" ".join("".join(b.itertext()).split()) for b in blocks)


def evaluate(folder: Path = PAGES) -> dict[str, dict[str, Any]]:
    pages = sorted(folder.glob("*.html"))
    if not pages:
        raise InputError(f"no test pages in {folder}")
    out = {}
    for name, extract in extractors().items():
        scores = [score_page(p, extract) for p in pages]
        sentences = sum(s.sentences for s in scores)
        extracted = sum(s.extracted for s in scores)
        out[name] = {
            "pages": len(scores),
            "kept": sum(s.kept for s in scores) / sentences,
            "boilerplate": sum(s.furniture for s in scores) / max(1, extracted),
            "worst_page_kept": min(s.kept / s.sentences for s in scores),
            "by_lang": _by_lang(scores),
            "pages_detail": [s.to_dict() for s in scores],
        }
    return out


def _by_lang(scores: list[PageScore]) -> dict[str, float]:
    langs: dict[str, list[int]] = {}
    for s in scores:
        row = langs.setdefault(s.lang, [0, 0])
        row[0] += s.kept
        row[1] += s.sentences
    return {lang: round(k / n, 3) for lang, (k, n) in sorted(langs.items())}


def table(results: dict[str, dict[str, Any]]) -> list[str]:
    lines = [
        "extractor              pages   kept   boilerplate   worst page kept   kept by language"
    ]
    for name, r in results.items():
        langs = ", ".join(f"{k} {v:.2f}" for k, v in r["by_lang"].items())
        lines.append(f"{name:<22} {r['pages']:>5}  {r['kept']:.3f}   {r['boilerplate']:.3f}"
                     f"         {r['worst_page_kept']:.3f}             {langs}")  # fmt: skip
    return lines
