"""The presentation model: what every front end shows, decided once."""

from __future__ import annotations

from dataclasses import replace

from rag.answers import Answer
from rag.apps.cli import render_text
from rag.present import paragraph_bounds, present
from rag.service import RAG
from tests.conftest import DOC_DE


def test_view_holds_direct_answer_segments_and_sources_with_their_paragraph(seed_rag: RAG) -> None:
    answer = seed_rag.ask("Wie viele H200-Einheiten will Alibaba abnehmen?")
    view = present(answer, seed_rag.index.article)
    assert view.direct == "Antwort: 200.000 [1]."
    assert view.segments[0].citations == (1,) and all(s.supported for s in view.segments)
    (source,) = view.sources
    assert source.doc_id == DOC_DE and source.n == 1
    assert (
        source.paragraph[slice(*source.highlight)]
        == seed_rag.index.article(DOC_DE).text[source.start : source.end]
    )
    assert "200.000" in source.paragraph[slice(*source.highlight)]
    assert len(source.paragraph) > len(source.quote)  # the surrounding paragraph, not the quote
    assert 0 < (view.confidence or 0) <= 1 and view.notice == "" and not view.abstained


def test_text_rendering_is_the_cli_contract(seed_rag: RAG) -> None:
    answer = seed_rag.ask("Wie viele H200-Einheiten will Alibaba abnehmen?")
    assert render_text(present(answer, seed_rag.index.article)).splitlines() == [
        answer.answer,
        "  [1] Alibaba im Aufwind (002_d0874370ff9fac6c, de, 2026-01-11, chars 1885-2045)",
        "      by Bn-Redaktion/js",  # the byline, as on the page and in Slack
    ]


def test_unverified_parts_become_warnings_and_a_stale_direct_answer_is_dropped(
    seed_rag: RAG,
) -> None:
    answer = seed_rag.ask("Wie viele H200-Einheiten will Alibaba abnehmen?")
    flagged: Answer = replace(
        answer,
        answer="Sie bestellen 3 Millionen [1].",
        dropped_citations=[4],
        removed=[{"text": "Jeder kauft 9 GB [1].", "reason": "9 GB not found"}],
    )
    view = present(flagged, seed_rag.index.article)
    assert view.direct == ""
    assert view.warnings == (
        "dropped citations of sources that were not given: 4",
        "removed (9 GB not found): Jeder kauft 9 GB [1].",
    )
    assert render_text(view).splitlines()[-2:] == [f"  ! {w}" for w in view.warnings]


def test_paragraph_bounds() -> None:
    text = "Title\n\nFirst para. Second sentence.\n\nLast para."
    start = text.index("Second")
    assert text[slice(*paragraph_bounds(text, start, start + 6))] == "First para. Second sentence."
    lines = "one\ntwo three\nfour"
    assert lines[slice(*paragraph_bounds(lines, 4, 7))] == "two three"


def test_a_long_paragraph_shows_the_quote_with_two_sentences_either_side() -> None:
    """A paragraph of twelve sentences: the evidence is the cited one and two on each side,
    marked as clipped on both ends; a short paragraph is shown whole."""
    from rag.answers import Citation
    from rag.ingest.corpus import Article
    from rag.present import evidence_window

    sentences = [f"Sentence number {i} reports {i * 10} units." for i in range(12)]
    text = "Headline\n\n" + " ".join(sentences) + "\n\nLast paragraph."
    quote = sentences[6]
    start = text.index(quote)
    citation = Citation(n=1, doc_id="d", title="t", date=None, lang="en", quote=quote,
                        start=start, end=start + len(quote))  # fmt: skip
    view = present(
        Answer(f"{quote} [1]", False, [citation]),
        lambda _: Article(doc_id="d", text=text, title="t", lang="en"),
    )
    (source,) = view.sources
    assert source.paragraph == " ".join(sentences[4:9]) and source.clipped == (True, True)
    assert source.paragraph[slice(*source.highlight)] == quote
    short = text.index("Last paragraph.")
    assert evidence_window(text, short, len(text), replace(citation, start=short, end=len(text)),
                           "en") == (short, len(text))  # fmt: skip
