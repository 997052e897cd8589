"""The presentation model: one function turns an Answer into the view every front end renders.

The CLI and the web page (and any later front end) compose nothing themselves: what to show (the direct
answer, each sentence with its citations, each source with the quoted span inside its
paragraph, conflicts, what could not be verified, notes, confidence) is decided here once, and
each front end only chooses how it looks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rag import lang as langmod
from rag.answers import Answer, Citation
from rag.checks.citations import sentence_support
from rag.ingest.corpus import Article


@dataclass(frozen=True)
class Segment:
    """One sentence of the answer with the citation numbers it rests on."""

    text: str
    citations: tuple[int, ...]
    supported: bool


@dataclass(frozen=True)
class SourceView:
    """A cited source: where the quote comes from, and the paragraph around it."""

    n: int
    doc_id: str
    title: str
    outlet: str | None
    date: str | None
    lang: str
    quote: str
    start: int  # character offsets of the quote in the article as published
    end: int
    paragraph: str  # the quote with at most CONTEXT_SENTENCES either side, within its paragraph
    highlight: tuple[int, int]  # the quote's span inside `paragraph`
    article: str  # the whole article as published, for "open the article" (span: start..end)
    clipped: tuple[bool, bool] = (False, False)  # paragraph text left out before / after
    untrusted: bool = False  # its article carries planted instructions
    url: str | None = None  # where it was published
    also_at: tuple[str, ...] = ()  # where near-copies of it were published
    updated: str | None = None  # when a new version replaced the first one
    author: str | None = None  # the byline, where the article has one


@dataclass(frozen=True)
class ConflictValue:
    """One of the differing values of a quantity, with where and when it was reported."""

    text: str
    n: int  # the citation number of the source that gives it
    doc_id: str
    title: str
    date: str | None
    sources: int = 1  # how many articles give this value
    minority: bool = False  # one source against a value several give


@dataclass(frozen=True)
class PassageView:
    """A retrieved passage that was not good enough to answer from (shown after an abstention)."""

    doc_id: str
    title: str
    date: str | None
    lang: str
    text: str
    score: float


@dataclass(frozen=True)
class AnswerView:
    """Everything a front end shows for one answer."""

    answer: str  # the whole checked answer text, as the CLI prints it
    direct: str  # the short direct answer that leads ("答：141GB [1]。"), or ""
    segments: tuple[Segment, ...]
    sources: tuple[SourceView, ...]
    abstained: bool
    question_lang: str
    answerer: str
    conflicts: tuple[str, ...]
    warnings: tuple[str, ...]
    notes: tuple[str, ...]
    notice: str  # why this answer came from a fallback answerer, or ""
    confidence: float | None
    conflict_table: tuple[tuple[ConflictValue, ...], ...] = ()  # per quantity, its values
    considered: tuple[PassageView, ...] = ()  # after an abstention: the closest passages


def present(answer: Answer, article: Callable[[str], Article]) -> AnswerView:
    """The view of `answer`; `article` looks a cited article up by id (for outlet and paragraph)."""
    segments = [Segment(s.text, tuple(s.citations), s.supported)
                for s in answer.sentences or sentence_support(answer.answer)]  # fmt: skip
    direct = answer.direct if answer.direct and answer.answer.startswith(answer.direct) else ""
    text = answer.answer
    agreement = _agreement(answer)
    if direct and agreement and segments:
        # said beside the value it backs, after the figure check (its count is ours, not a
        # figure an article gives)
        at = next((i + 1 for i, x in enumerate(segments) if x.text == direct), 1)
        segments.insert(at, Segment(agreement.text, agreement.citations, True))
        text = f"{direct} {agreement.text}{answer.answer[len(direct) :]}"
    return AnswerView(
        answer=text,
        direct=direct,
        segments=tuple(segments),
        sources=tuple(_source(c, article(c.doc_id)) for c in answer.citations),
        abstained=answer.abstained,
        question_lang=answer.question_lang,
        answerer=answer.answerer,
        conflicts=tuple(conflict_lines(answer)),
        warnings=tuple(warning_lines(answer)),
        notes=tuple(answer.notes),
        notice=answer.notice,
        confidence=answer.confidence,
        conflict_table=tuple(_conflict_values(c, article) for c in answer.conflicts),
        considered=_considered(answer, article) if answer.abstained else (),
    )


CONSIDERED = 3  # passages shown after an abstention


def _agreement(answer: Answer) -> Segment | None:
    """ "3 sources agree" (in the question's language) for the direct answer's value, when
    several articles give it."""
    lead = answer.agreements[0] if answer.agreements else None
    if lead is None or f"{lead['text']} [{lead['citations'][0]}]" not in answer.direct:
        return None
    text = langmod.sources_agree(answer.question_lang, int(lead["sources"]), lead["text"])
    return Segment(text, tuple(lead["citations"]), True)


def _conflict_values(
    conflict: dict[str, Any], article: Callable[[str], Article]
) -> tuple[ConflictValue, ...]:
    return tuple(
        ConflictValue(
            v["text"],
            v["citation"],
            v["doc_id"],
            article(v["doc_id"]).title,
            v["date"],
            v.get("sources", 1),
            v.get("minority", False),
        )
        for v in conflict["values"]
    )


def _considered(answer: Answer, article: Callable[[str], Article]) -> tuple[PassageView, ...]:
    out = []
    for hit in answer.retrieved[:CONSIDERED]:
        source = article(hit.chunk.doc_id)
        text = " ".join(hit.chunk.text.split())
        out.append(
            PassageView(
                hit.chunk.doc_id, source.title, source.date, hit.chunk.lang, text, hit.score
            )
        )
    return tuple(out)


CONTEXT_SENTENCES = 2  # around a quote in a long paragraph
UNTRUSTED_SOURCE = "untrusted (planted instructions)"  # beside a source, in every front end


def _source(citation: Citation, article: Article) -> SourceView:
    p_start, p_end = paragraph_bounds(article.text, citation.start, citation.end)
    start, end = evidence_window(article.text, p_start, p_end, citation, article.lang)
    return SourceView(
        n=citation.n,
        doc_id=citation.doc_id,
        title=citation.title,
        outlet=article.outlet,
        date=citation.date,
        lang=citation.lang,
        quote=citation.quote,
        start=citation.start,
        end=citation.end,
        paragraph=article.text[start:end],
        highlight=(citation.start - start, citation.end - start),
        article=article.text,
        clipped=(start > p_start, end < p_end),
        untrusted=citation.untrusted,
        url=article.url,
        also_at=tuple(article.also_at),
        updated=article.updated,
        author=article.author,
    )


def evidence_window(
    text: str, start: int, end: int, citation: Citation, lang: str
) -> tuple[int, int]:
    """The quote and at most CONTEXT_SENTENCES sentences either side, within the paragraph
    start..end: an article with no paragraph breaks (the Chinese seed) would otherwise show
    whole as "its paragraph", with the cited sentence lost somewhere inside."""
    from rag.ingest.text import CleanText, split_sentences

    spans = [(start + s.start, start + s.end)
             for s in split_sentences(CleanText.build(text[start:end], []), lang)]  # fmt: skip
    inside = [i for i, (a, b) in enumerate(spans) if a < citation.end and b > citation.start]
    if not inside:
        return start, end
    first = max(0, inside[0] - CONTEXT_SENTENCES)
    last = min(len(spans) - 1, inside[-1] + CONTEXT_SENTENCES)
    window_start = start if first == 0 else min(spans[first][0], citation.start)
    window_end = end if last == len(spans) - 1 else max(spans[last][1], citation.end)
    return window_start, window_end


def paragraph_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """The paragraph (between blank lines, or lines when the article has no blank lines) that
    holds the span start..end."""
    separator = "\n\n" if "\n\n" in text else "\n"
    left = text.rfind(separator, 0, start)
    right = text.find(separator, end)
    return (0 if left < 0 else left + len(separator)), (len(text) if right < 0 else right)


def conflict_lines(answer: Answer) -> list[str]:
    """One line per disagreement: each value with its citation, article and date."""
    lines = []
    for conflict in answer.conflicts:
        values = " · ".join(
            f"{v['text']} [{v['citation']}] ({v['doc_id']}, {v['date'] or 'undated'}"
            f"{_support(v.get('sources', 1), v.get('minority', False))})"
            for v in conflict["values"]
        )
        lines.append(f"sources differ: {values}")
    return lines


def _support(sources: int, minority: bool) -> str:
    if minority:
        return ", minority: one source"
    return f", {sources} sources" if sources > 1 else ""


def warning_lines(answer: Answer) -> list[str]:
    """Everything the checks could not verify, one line each."""
    lines = []
    if answer.dropped_citations:
        numbers = ", ".join(str(n) for n in answer.dropped_citations)
        lines.append(f"dropped citations of sources that were not given: {numbers}")
    lines += [f"unsupported (no valid citation): {s.text}" for s in answer.sentences
              if not s.supported]  # fmt: skip
    lines += [f"figure not found in the cited source: {f.figure.text}" for f in answer.figures
              if not f.supported]  # fmt: skip
    lines += [f"removed ({r['reason']}): {r['text']}" for r in answer.removed]
    lines += [f"[{c.n}] is from an article that carries instructions planted for AI assistants: "
              "treat its claims with care" for c in answer.citations if c.untrusted]  # fmt: skip
    return lines
