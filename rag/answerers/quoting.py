"""Building an answer from quoted article sentences: citations, the direct answer that leads,
and figures that the cited articles give differently. Shared by the extractive answerers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeVar

from rag import lang as langmod
from rag.answerers import qtypes
from rag.answers import Answer, Citation, Evidence
from rag.checks.citations import neutralise_marks
from rag.checks.figures import Figure, extract
from rag.stores.base import Sentence


class Quoted(Protocol):
    """A candidate sentence with the score its answerer ranks it by."""

    @property
    def sentence(self) -> Sentence: ...

    @property
    def score(self) -> float: ...


Q = TypeVar("Q", bound=Quoted)


def quoted_answer(
    chosen: Sequence[Quoted],
    type_probs: Mapping[str, float],
    evidence: Evidence,
    answerer: str,
    notes: list[str],
    confidence: float | None = None,
) -> Answer:
    """The answer quoting `chosen`, each sentence cited, led by the direct answer when the
    question asks for a figure."""
    citations = [cite(n, item.sentence, evidence) for n, item in enumerate(chosen, start=1)]
    # The quote keeps the article's words, but not its own "[2]": only our marks cite.
    quotes = " ".join(f"{neutralise_marks(c.quote)} [{c.n}]" for c in citations)
    direct = direct_answer(citations, type_probs, evidence.question_lang)
    return Answer(
        f"{direct} {quotes}" if direct else quotes,
        False,
        citations,
        question_lang=evidence.question_lang,
        answerer=answerer,
        conflicts=figure_conflicts(citations),
        notes=notes,
        confidence=confidence,
        direct=direct,
    )


def newest_first(near: Sequence[Q], ranked: list[Q], evidence: Evidence) -> tuple[list[Q], str]:
    """For "now / latest" questions: of the `near`-best sentences, lead with the one from the
    most recently dated article, and say which date that is."""
    dated = [c for c in near if evidence.index.article(c.sentence.doc_id).date]
    if not dated:
        return ranked, "none of the matching articles is dated, so the newest cannot be told"
    newest = max(dated, key=lambda c: (evidence.index.article(c.sentence.doc_id).date, c.score))
    article = evidence.index.article(newest.sentence.doc_id)
    rest = [c for c in ranked if c.sentence.sentence_id != newest.sentence.sentence_id]
    return [newest, *rest], f"newest source: {article.title} ({article.date})"


def cite(n: int, sentence: Sentence, evidence: Evidence) -> Citation:
    """Citation `n` quoting a sentence, with its article's title, date and language."""
    article = evidence.index.article(sentence.doc_id)
    return Citation(
        n=n,
        doc_id=sentence.doc_id,
        title=article.title,
        date=article.date,
        lang=evidence.index.chunk(sentence.chunk_id).lang,
        quote=sentence.text,
        start=sentence.start,
        end=sentence.end,
        untrusted=article.untrusted,
    )


def direct_answer(citations: list[Citation], type_probs: Mapping[str, float], lang: str) -> str:
    """The value asked for, first and in the question's language: `答：141GB [1]。`.

    Only for a question that asks for a figure of one type (P >= 0.5); figures are copied as the
    source writes them, each with the citation of its quote, so the figure check verifies them
    like any other sentence; differing values are all given.
    """
    kind = qtypes.best_type(type_probs)
    if kind not in qtypes.FIGURE_TYPES or type_probs[kind] < 0.5:
        return ""
    values: list[str] = []
    seen: list[Figure] = []
    for c in citations:
        figures = qtypes.compatible_figures(extract(c.quote, c.lang), kind)
        for fig in figures[:1]:
            if not any(fig.same_value(f) for f in seen):
                equivalent = bracketed_equivalent(fig, figures[1:], c.quote)
                seen.extend([fig, *equivalent])
                text = (
                    c.quote[fig.start : equivalent[0].end + 1].strip() if equivalent else fig.text
                )
                values.append(f"{text} [{c.n}]")
    return langmod.frame_answer(lang, values) if values else ""


def bracketed_equivalent(fig: Figure, rest: Sequence[Figure], text: str) -> list[Figure]:
    """The figure written right after `fig` in brackets, "380 billion yuan ($53 billion)": the
    same amount converted, which a reader asking in dollars looks for, so it stays beside it."""
    for other in rest[:1]:
        between = text[fig.end : other.start].strip()
        if between in ("(", "（") and text[other.end : other.end + 1] in (")", "）"):
            return [other]
    return []


def sentence_amounts(sentence: Sentence, evidence: Evidence) -> list[Figure]:
    """A sentence's figures other than years and dates: the values that can conflict."""
    lang = evidence.index.chunk(sentence.chunk_id).lang
    return [f for f in extract(sentence.text, lang) if f.kind not in ("year", "date")]


def figure_differs(a: Figure, b: Figure) -> bool:
    return a.unit == b.unit and a.kind == b.kind and not a.covers(b) and not b.covers(a)


def figure_conflicts(citations: list[Citation]) -> list[dict[str, Any]]:
    """Quantities that the cited articles give differently, each value with its source and
    date, so the reader sees the disagreement instead of one silently chosen number."""
    by_unit: dict[tuple[str | None, str], list[dict[str, Any]]] = {}
    for c in citations:
        for f in extract(c.quote, c.lang):
            if f.kind in ("year", "date"):
                continue
            by_unit.setdefault((f.unit, f.kind), []).append(
                {"text": f.text, "value": f.value, "citation": c.n, "doc_id": c.doc_id,
                 "date": c.date}
            )  # fmt: skip
    conflicts = []
    for (unit, kind), values in by_unit.items():
        distinct = {round(v["value"], 9) for v in values}
        if len(distinct) > 1 and len({v["doc_id"] for v in values}) > 1:
            conflicts.append({"unit": unit, "kind": kind, "values": values})
    return conflicts
