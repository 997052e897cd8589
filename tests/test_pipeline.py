"""End-to-end answers on the seed corpus: right figure, valid citations, abstention."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.answers import Answer
from rag.errors import RagError
from rag.ingest import text as textmod
from rag.present import conflict_lines
from rag.service import RAG
from tests.conftest import DOC_DE, DOC_EN_ORDERS, DOC_EN_STOCK, DOC_ES_TITLE, DOC_ZH

SEED_FACTS = [
    ("How many Nvidia chips are Alibaba and ByteDance ready to order?", "200,000", {DOC_EN_ORDERS}),
    ("Wie viele H200-Einheiten will Alibaba abnehmen?", "200.000", {DOC_DE}),
    ("美国将从H200芯片出口中收取多少分成？", "25%", {DOC_ZH}),
    ("H200的理论AI算力是H20的多少倍？", "13倍", {DOC_ZH}),
    ("What was Alibaba's share price in Hong Kong?", "HK$152.40", {DOC_EN_STOCK}),
    ("How much will ByteDance spend on Nvidia chips in 2026?", "100 billion yuan", {DOC_ES_TITLE}),
    ("What market share does Alibaba Cloud have in China?", "33%", {DOC_EN_STOCK}),
    ("How many H200 units have Chinese firms ordered for 2026?", "2 million", {DOC_ES_TITLE}),
    ("What is the memory bandwidth of the H200?", "4.8 TB/s", {DOC_EN_ORDERS}),
    ("How much did Alibaba raise through convertible bonds?", "$3.2 billion", {DOC_EN_STOCK}),
    ("¿Cuánto invertirá Alibaba en IA en tres años?", "380 billion yuan", {DOC_EN_STOCK}),
    # Two articles give two rises (4.8 % intraday, 6.35 % on another day): either is a right answer.
    (
        "Um wie viel Prozent stieg die Alibaba-Aktie in Hongkong?",
        "4,8 %|6.35%",
        {DOC_DE, DOC_EN_STOCK},
    ),
]
# Harder cross-lingual cases: counted in the accuracy threshold, not required one by one.
HARD_FACTS = [
    ("What is the market value of Nvidia?", "4.51万亿美元", {DOC_ZH}),
    ("Wie viel Umsatz könnte der H200-Export Nvidia bringen?", "150亿美元", {DOC_ZH}),
    ("What fee did the US previously charge before the 25% share?", "15%", {DOC_ZH}),
    ("¿Cuántos chips H200 quiere comprar Alibaba?", "200,000", {DOC_EN_ORDERS}),
]
MIN_ACCURACY = 0.75  # 12 of 16 with the fitted answer model (13 of 16 with the hand-tuned one)

UNANSWERABLE = [
    ("What is the capital of France?", "en"),
    ("Who won the 2022 football World Cup?", "en"),
    ("Wie hoch ist Nvidias Dividende?", "de"),
    ("特斯拉的股价是多少？", "zh"),
    ("Who is the CEO of Alibaba?", "en"),
    ("Quelle est la population de Paris?", "fr"),
]


def assert_valid(answer: Answer, rag: RAG) -> None:
    answer.check_citations()
    for c in answer.citations:
        article = rag.index.article(c.doc_id)
        assert textmod.quote(article.text, article.junk, c.start, c.end) == c.quote
        assert c.quote in answer.answer
        assert (c.title, c.date) == (article.title, article.date)


@pytest.mark.parametrize(("question", "figure", "sources"), SEED_FACTS)
def test_seed_facts_are_answered_with_the_figure_and_cited(
    seed_rag: RAG, question: str, figure: str, sources: set[str]
) -> None:
    answer = seed_rag.ask(question)
    assert not answer.abstained, answer.answer
    assert_valid(answer, seed_rag)
    assert figure_cited(answer, figure, sources), answer.answer


def _plain(facts: list) -> list[tuple[str, str, set[str]]]:  # type: ignore[type-arg]
    """The facts with pytest's marks taken off (a known miss still counts in the accuracy)."""
    return [tuple(f.values) if hasattr(f, "values") else f for f in facts]


def figure_cited(answer: Answer, figures: str, sources: set[str]) -> bool:
    """One of the `|`-separated figures is quoted by a citation of a right source."""
    return any(
        f in c.quote and c.doc_id in sources for c in answer.citations for f in figures.split("|")
    )


def test_accuracy_over_all_seed_questions(seed_rag: RAG) -> None:
    """Correct = answered, and a citation of a right source quotes the expected figure."""
    correct = 0
    for question, figure, sources in [*_plain(SEED_FACTS), *HARD_FACTS]:
        answer = seed_rag.ask(question)
        assert_valid(answer, seed_rag)
        correct += figure_cited(answer, figure, sources)
    total = len(SEED_FACTS) + len(HARD_FACTS)
    assert correct / total >= MIN_ACCURACY, f"{correct}/{total}"


@pytest.mark.parametrize(("question", "lang"), UNANSWERABLE)
def test_abstains_in_the_question_language(seed_rag: RAG, question: str, lang: str) -> None:
    answer = seed_rag.ask(question)
    assert answer.abstained, answer.answer
    assert answer.citations == [] and answer.question_lang == lang
    from rag.lang import abstain_message

    # "The articles don't say: …", then why: no passage answers, or none mentions Paris
    said = re.split("[:：]", abstain_message(lang))[0]
    assert answer.answer.startswith(said), answer.answer


def test_answer_reports_stage_timings(seed_rag: RAG) -> None:
    answer = seed_rag.ask("How much memory does the H200 have?")
    assert {"embed", "search", "answer", "total"} <= set(answer.timings_ms)
    assert answer.to_dict()["answerer"] == "extractive"


@pytest.mark.parametrize("question", ["", "   ", "x" * 2001])
def test_bad_questions(seed_rag: RAG, question: str) -> None:
    with pytest.raises(RagError):
        seed_rag.ask(question)


def test_unknown_answerer_lists_known(seed_index: object) -> None:
    with pytest.raises(RagError, match=r"known: .*extractive"):
        RAG(seed_index, answerer="gpt-9")  # type: ignore[arg-type]


def test_first_use_builds_the_index_from_the_corpus(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import write_article

    write_article(
        tmp_path / "corpus", "x.txt", "Nvidia will pay a 25% fee on H200 sales to China.", lang="en"
    )
    messages: list[str] = []
    rag = RAG.open_or_build(
        tmp_path / "ix", corpus_dir=tmp_path / "corpus", on_build=messages.append
    )
    assert messages and "building it" in messages[0]
    assert rag.search("fee on H200", k=1).hits[0].chunk.doc_id == "x"


def test_a_per_company_order_beside_a_total_is_quoted_but_not_a_conflict(seed_rag: RAG) -> None:
    """Orders of 200,000 chips per company vs 2 million for Chinese firms in total: both are
    quoted with their sources, but they are different quantities, so no "sources differ"
    (issue 20); the direct answer gives the lead quantity only."""
    answer = seed_rag.ask("How many H200 chips will Chinese companies order?")
    assert_valid(answer, seed_rag)
    assert answer.conflicts == [] and conflict_lines(answer) == []
    assert answer.direct == "Answer: 2 million [1]."
    assert figure_cited(answer, "2 million", {DOC_ES_TITLE})
    assert figure_cited(answer, "200,000", {DOC_EN_ORDERS})


def test_a_single_figure_is_not_a_conflict(seed_rag: RAG) -> None:
    assert seed_rag.ask("How much HBM3E memory does the H200 have?").conflicts == []


@pytest.mark.xfail(
    strict=True,
    reason="two near-identical dated sentences split the top candidate's share, which the "
    "refitted calibration reads as doubt: confidence 0.42 under the threshold 0.54",
)
def test_now_questions_lead_with_the_newest_source_and_say_its_date(tmp_path: Path) -> None:
    from rag.ingest import corpus
    from rag.stores import faiss_bm25 as store
    from tests.conftest import write_article

    docs = tmp_path / "docs"
    write_article(docs, "old.txt", "Nvidia's share of China's AI chip market was 40% this year.",
                  lang="en", date="2026-01-05", title="January report")  # fmt: skip
    write_article(docs, "new.txt", "Nvidia's share of China's AI chip market was 50% this year.",
                  lang="en", date="2026-02-01", title="February report")  # fmt: skip
    store.ingest(tmp_path / "ix", corpus.load_articles([docs]), progress=False)
    answer = RAG(tmp_path / "ix").ask("What is Nvidia's current share of China's AI chip market?")
    assert answer.citations[0].doc_id == "new" and "50%" in answer.answer.split("[1]")[0]
    assert answer.notes == ["newest source: February report (2026-02-01)"]
    assert {v["text"] for c in answer.conflicts for v in c["values"]} == {"40%", "50%"}


@pytest.mark.parametrize(
    ("question", "lead"),
    [
        ("How much HBM3E memory does the H200 have?", "Answer: 141GB [1]."),
        ("Wie viele H200-Einheiten will Alibaba abnehmen?", "Antwort: 200.000 [1]."),
    ],
)
def test_default_answer_leads_with_the_value_in_the_question_language(
    seed_rag: RAG, question: str, lead: str
) -> None:
    """The direct answer copies the figure as the source writes it, so the check verifies it."""
    answer = seed_rag.ask(question)
    assert answer.answer.startswith(lead), answer.answer
    assert_valid(answer, seed_rag)
    assert answer.figures and all(f.supported for f in answer.figures)


@pytest.mark.parametrize(
    ("text", "lang", "shown"),
    [
        ("Alibaba announced a 380 billion yuan ($53 billion) investment.", "en",
         "380 billion yuan ($53 billion)"),
        ("阿里巴巴宣布投资3800亿元（530亿美元）用于AI。", "zh", "3800亿元（530亿美元）"),
        ("Alibaba will invest 380 billion yuan, and $53 billion more later.", "en",
         "380 billion yuan"),
    ],
)  # fmt: skip
def test_a_bracketed_conversion_stays_beside_its_figure(text: str, lang: str, shown: str) -> None:
    """A bracketed conversion, "380 billion yuan ($53 billion)", is one amount: a reader
    asking in dollars finds it in the direct answer; two amounts in a sentence stay apart."""
    from rag.answerers.quoting import direct_answer
    from rag.answers import Citation

    citation = Citation(n=1, doc_id="d", title="t", date=None, lang=lang, quote=text, start=0,
                        end=len(text))  # fmt: skip
    assert direct_answer([citation], {"money": 0.9}, "en") == f"Answer: {shown} [1]."


def test_no_direct_answer_when_the_question_asks_for_no_figure(seed_rag: RAG) -> None:
    answer = seed_rag.ask("Why does Alibaba want the H200?")
    assert not answer.answer.startswith(("Answer:", "Antwort:")), answer.answer


@pytest.mark.xfail(strict=True, reason="'IA' is taken for a name no article mentions")
def test_one_short_article_in_the_question_language_does_not_silence_other_sources(
    seed_index_copy: Path, tmp_path: Path
) -> None:
    """A lone Spanish article about something else made every Spanish question "unknown":
    Spanish analysis turned "Alibaba" into "alib", and "IA" was not in its three sentences.
    The question is answered from the English article as before, and the seed questions
    keep their answers."""
    from rag.ingest import corpus
    from rag.stores import faiss_bm25
    from tests.conftest import write_article

    write_article(
        tmp_path / "new", "es-mercado.txt",
        "El mercado de chips en España crece con fuerza\n\nLas ventas de semiconductores en "
        "España aumentaron un 12 % en 2025, según la patronal del sector. La empresa madrileña "
        "Chipnova invertirá 450 millones de euros en una nueva planta en Zaragoza durante los "
        "próximos tres años.",
        lang="es",
    )  # fmt: skip
    faiss_bm25.ingest(seed_index_copy, corpus.load_articles([tmp_path / "new"]), progress=False)
    rag = RAG(seed_index_copy)
    answer = rag.ask("¿Cuánto invertirá Alibaba en IA en tres años?")
    assert not answer.abstained and "380 billion yuan" in answer.answer
    assert {c.doc_id for c in answer.citations} == {DOC_EN_STOCK}
    wrong = [q for q, figure, docs in SEED_FACTS if not figure_cited(rag.ask(q), figure, docs)]
    assert wrong == []
