"""Conflicts only for the same quantity, corroboration, and the minority value: the decision on
the labelled pair sets (`eval/conflicts/`), and through the whole answer path."""

from __future__ import annotations

import pytest

from rag.answerers import quantities
from rag.evaluation import conflict_pairs
from rag.ingest import corpus
from rag.present import present
from rag.service import RAG
from rag.stores import faiss_bm25 as store
from tests.conftest import REPO, write_article

PAIRS = REPO / "eval" / "conflicts"


@pytest.mark.parametrize(("name", "floor"), [("dev", 0.95), ("heldout", 0.9)])
def test_the_conflict_decision_on_the_pair_sets(name: str, floor: float) -> None:
    """Measured: dev 1.00 / 1.00, heldout 0.93 / 0.93 (the unit-only rule before: precision
    0.46 and 0.45). Gates a little under what was measured."""
    report = conflict_pairs.evaluate(PAIRS / f"{name}.jsonl")
    now, before = report.scores(), report.scores("before")
    assert now["precision"] >= floor and now["recall"] >= floor, now
    assert before["precision"] < 0.5  # the set holds real look-alikes


def _one(sentence: str, lang: str, title: str = "", date: str | None = None) -> quantities.Reported:
    (first, *_) = quantities.reported_figures(sentence, lang, title, date)
    return first


def test_look_alikes_are_different_quantities_and_scripts_do_not_matter() -> None:
    total = _one("Chinese firms have ordered 2 million H200 chips for 2026.", "en")
    each = _one("Alibaba and ByteDance are ready to order 200,000 Nvidia chips each.", "en")
    assert quantities.difference(total, each) == "per unit vs total"
    alibaba = _one("Alibaba ordered 200,000 H200 chips.", "en")
    assert quantities.difference(alibaba, _one("腾讯订购了30万颗H200芯片。", "zh")) == (
        "different subject"
    )
    assert quantities.conflicts(alibaba, _one("阿里巴巴订购了30万颗H200芯片。", "zh"))
    assert quantities.agrees(alibaba, _one("阿里巴巴订购了20万颗H200芯片。", "zh"))
    peak = _one("In Hongkong kletterte das Papier in der Spitze um 4,8 %.", "de")
    assert quantities.difference(peak, _one("Alibaba's stock surged 6.35% in Hong Kong.", "en"))
    q3 = _one("Revenue was $51.2 billion in the third fiscal quarter.", "en")
    assert quantities.difference(q3, _one("Revenue was $41.1 billion in the second quarter.", "en"))
    plan = _one("Intel expects revenue of $13.5 billion in the fourth quarter.", "en")
    assert quantities.difference(
        plan, _one("Intel's revenue was $12.9 billion in the fourth quarter.", "en")
    )


@pytest.fixture(scope="module")
def spec_rag(tmp_path_factory: pytest.TempPathFactory) -> RAG:
    """Two outlets give the H300's memory as 192GB, a leaked spec sheet as 96GB."""
    folder = tmp_path_factory.mktemp("spec")
    for name, outlet, date, text in (
        ("wire", "Wire", "2026-03-01", "The H300 accelerator has 192GB of HBM4 memory."),
        ("daily", "Daily", "2026-03-02", "Nvidia's H300 comes with 192GB of HBM4 memory."),
        ("leak", "Leaks", "2026-02-20", "A leaked spec sheet says the H300 has 96GB of HBM4 memory."),
    ):  # fmt: skip
        write_article(folder, f"{name}.txt", f"{text} Shipments start in the summer.", lang="en",
                      date=date, title=f"{outlet}: the H300 in detail", outlet=outlet)  # fmt: skip
    write_article(folder, "zh.txt", "H300加速器配备192GB的HBM4内存。", lang="zh",
                  date="2026-03-03", title="H300详解")  # fmt: skip
    index = tmp_path_factory.mktemp("spec-index") / "index"
    store.ingest(index, corpus.load_articles([folder]), progress=False)
    return RAG(index)


def test_agreeing_sources_are_counted_and_the_minority_is_shown(spec_rag: RAG) -> None:
    answer = spec_rag.ask("How much HBM4 memory does the H300 have?")
    view = present(answer, spec_rag.index.article)
    assert "192GB" in view.direct and "sources agree)" in view.answer, view.answer
    (conflict,) = answer.conflicts
    minority = [v for v in conflict["values"] if v["minority"]]
    assert [(v["text"], v["doc_id"], v["date"]) for v in minority] == [
        ("96GB", "leak", "2026-02-20")
    ]
    assert any("minority" in line for line in view.conflicts)
