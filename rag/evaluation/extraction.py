"""`rag eval-extraction`: how much of an article a page's extraction keeps, and how much page
furniture comes with it, on hand-written news pages (`eval/pages/`: each page's HTML and the
article's sentences and the furniture on it, in five languages).

- **kept**: the share of the article's sentences found in the extracted text;
- **boilerplate**: the share of the extracted text's sentences that are furniture (they hold a
  furniture string, or one holds them, and they are no article sentence).

Measured for trafilatura (what `rag ingest URL` uses) and, as the baseline, the selectolax
reader `rag ingest` used for local .html files before.
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
    text = _norm(extract(markup))
    article = [_norm(s) for s in truth["sentences"]]
    furniture = [_norm(b) for b in truth["boilerplate"] if _norm(b)]
    kept = sum(1 for s in article if s in text)
    extracted = [_norm(s.text) for s in split_sentences(CleanText.build(text, []), truth["lang"])]
    extracted = [s for s in extracted if s]
    junk = sum(
        1 for s in extracted
        if not any(s in a or a in s for a in article) and any(b in s or s in b for b in furniture)
    )  # fmt: skip
    return PageScore(page.stem, truth["lang"], len(article), kept, len(extracted), junk)


def extractors() -> dict[str, Callable[[str], str]]:
    """trafilatura (shipped for URLs) and the selectolax reader (the baseline)."""
    from rag.ingest import corpus, web

    return {
        "trafilatura": lambda markup: web.extract_page(markup, "https://example.invalid/a")[1],
        "selectolax (before)": lambda markup: corpus._html_article(markup)[1],
    }


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
