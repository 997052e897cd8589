"""Building an answer from quoted article sentences: citations, the direct answer that leads,
and figures that the cited articles give differently. Shared by the extractive answerers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from rag import lang as langmod
from rag.answerers import qtypes, quantities
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
    question asks for a figure, with the values the cited articles give differently (conflicts)
    and alike (agreements)."""
    citations = [cite(n, item.sentence, evidence) for n, item in enumerate(chosen, start=1)]
    # The quote keeps the article's words, but not its own "[2]": only our marks cite.
    quotes = " ".join(f"{neutralise_marks(c.quote)} [{c.n}]" for c in citations)
    kind = asked_figure_type(type_probs)
    groups = same_quantity_values(lead_figures(citations, kind))
    direct = _direct(groups, evidence.question_lang) if kind else ""
    return Answer(
        f"{direct} {quotes}" if direct else quotes,
        False,
        citations,
        question_lang=evidence.question_lang,
        answerer=answerer,
        conflicts=figure_conflicts(groups),
        agreements=figure_agreements(groups),
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

    Only for a question that asks for a figure of one type (P >= 0.5). It gives the lead
    citation's figure and every value other citations give for the same quantity: one value
    told by several sources once, with all their citations (`141GB [1][2]`), the value most
    sources give first, and differing values each with theirs. A figure of another quantity (a
    per-company order beside a total) is left to its quote. Figures are copied as the sources
    write them, so the figure check verifies them like any other sentence.
    """
    kind = asked_figure_type(type_probs)
    return _direct(same_quantity_values(lead_figures(citations, kind)), lang) if kind else ""


def _direct(groups: list[list[list[CitedFigure]]], lang: str) -> str:
    if not groups:
        return ""
    values = []
    for value in by_support(groups[0]):
        marks = "".join(f"[{n}]" for n in dict.fromkeys(f.citation for f in value))
        values.append(f"{value[0].text} {marks}")
    return langmod.frame_answer(lang, values)


def asked_figure_type(type_probs: Mapping[str, float]) -> str | None:
    """The figure type the question asks for (P >= 0.5), or None."""
    kind = qtypes.best_type(type_probs)
    return kind if kind in qtypes.FIGURE_TYPES and type_probs[kind] >= 0.5 else None


@dataclass(frozen=True)
class CitedFigure:
    """A cited sentence's figure as a reported quantity, with the text a reader sees (with its
    bracketed conversion: `380 billion yuan ($53 billion)`)."""

    citation: int
    doc_id: str
    date: str | None
    text: str
    quantity: quantities.Reported
    equivalents: tuple[Figure, ...] = ()  # the bracketed conversion, the same amount
    untrusted: bool = False  # from an article with planted instructions: counts for no one


def lead_figures(citations: Sequence[Citation], kind: str | None) -> list[CitedFigure]:
    """Each citation's figure of the asked type (its first), or every amount it gives when the
    question asks for none."""
    out = []
    for c in citations:
        figures = extract(c.quote, c.lang)
        chosen = (qtypes.compatible_figures(figures, kind)[:1] if kind
                  else [f for f in figures if f.kind not in ("year", "date")])  # fmt: skip
        for fig in chosen:
            rest = [f for f in figures if f.start > fig.start]
            equivalent = bracketed_equivalent(fig, rest, c.quote)
            text = c.quote[fig.start : equivalent[0].end + 1].strip() if equivalent else fig.text
            quantity = quantities.reported(fig, c.quote, c.lang, c.title, c.date, figures)
            out.append(CitedFigure(c.n, c.doc_id, c.date, text, quantity, tuple(equivalent),
                                   c.untrusted))  # fmt: skip
    return out


def same_quantity_values(figures: Sequence[CitedFigure]) -> list[list[list[CitedFigure]]]:
    """The figures grouped by quantity (in citation order), each quantity's figures grouped by
    value: [[[141GB [1], 141 GB [2]], [96GB [3]]], ...]."""
    groups: list[list[CitedFigure]] = []
    for f in figures:
        home = next((q for q in groups if all(_one_quantity(f, g) for g in q)), None)
        if home is None:
            groups.append([f])
        else:
            home.append(f)
    out = []
    for members in groups:
        values: list[list[CitedFigure]] = []
        for f in members:
            same = next((v for v in values if _alike(v[0], f)), None)
            if same is None:
                values.append([f])
            else:
                same.append(f)
        out.append(values)
    return out


def _one_quantity(a: CitedFigure, b: CitedFigure) -> bool:
    """The quantity model's decision; for a date or a year asked for ("when was it released?")
    the question names the event, so every date answers it, and different ones differ."""
    x, y = a.quantity.figure, b.quantity.figure
    if x.kind in ("year", "date") or y.kind in ("year", "date"):
        return (x.kind, x.unit) == (y.kind, y.unit)
    return quantities.same_quantity(a.quantity, b.quantity)


def _trusted_sources(value: list[CitedFigure]) -> set[str]:
    return {f.doc_id for f in value if not f.untrusted}


def by_support(values: list[list[CitedFigure]]) -> list[list[CitedFigure]]:
    """A quantity's values, the one most trusted articles give first: two outlets' 192GB before
    one leaked 96GB, whichever ranked higher."""
    return sorted(values, key=lambda v: -len(_trusted_sources(v)))


def _alike(a: CitedFigure, b: CitedFigure) -> bool:
    """The same value, in either's own figure or its bracketed conversion, and not a rise
    against a fall."""
    if not quantities.same_direction(a.quantity, b.quantity):
        return False
    return any(quantities.same_value(x, y) for x in (a.quantity.figure, *a.equivalents)
               for y in (b.quantity.figure, *b.equivalents))  # fmt: skip


def bracketed_equivalent(fig: Figure, rest: Sequence[Figure], text: str) -> list[Figure]:
    """The figure written right after `fig` in brackets, "380 billion yuan ($53 billion)": the
    same amount converted, which a reader asking in dollars looks for, so it stays beside it."""
    for other in rest[:1]:
        between = text[fig.end : other.start].strip()
        if between in ("(", "（") and text[other.end : other.end + 1] in (")", "）"):
            return [other]
    return []


def figure_conflicts(groups: list[list[list[CitedFigure]]]) -> list[dict[str, Any]]:
    """Quantities that the cited articles give differently, each value with its source, date
    and how many trusted sources give it (`minority` for one source against a value several
    give), so the reader sees the disagreement instead of one silently chosen number. Two
    figures that are different quantities (per company vs total, 2025 vs 2026, Alibaba vs
    Tencent) are not a disagreement."""
    conflicts = []
    for quantity in groups:
        values = by_support(quantity)
        docs = [{f.doc_id for f in v} for v in values]
        if len(values) < 2 or len(set().union(*docs)) < 2:
            continue
        support = [len(_trusted_sources(v)) for v in values]
        most = max(support)
        conflicts.append({
            "unit": values[0][0].quantity.figure.unit,
            "kind": values[0][0].quantity.figure.kind,
            "values": [
                {"text": v[0].text, "value": v[0].quantity.figure.value, "citation": v[0].citation,
                 "doc_id": v[0].doc_id, "date": v[0].date, "sources": n,
                 "minority": n <= 1 and most > 1}
                for v, n in zip(values, support, strict=True)
            ],
        })  # fmt: skip
    return conflicts


def figure_agreements(groups: list[list[list[CitedFigure]]]) -> list[dict[str, Any]]:
    """Values that several trusted cited articles give alike for one quantity, the lead one
    first; an untrusted article corroborates nothing."""
    out = []
    for values in groups:
        for v in by_support(values):
            trusted = _trusted_sources(v)
            if len(trusted) > 1:
                out.append({"text": v[0].text, "sources": len(trusted),
                            "citations": list(dict.fromkeys(f.citation for f in v
                                                            if f.doc_id in trusted))})  # fmt: skip
    return out
