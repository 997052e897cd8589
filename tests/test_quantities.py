"""Conflicts only for the same quantity, corroboration, and the minority value: the decision on
the labelled pair sets (`eval/conflicts/`), and through the whole answer path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rag import lang as langmod
from rag.answerers import quantities, quoting
from rag.answers import Citation
from rag.apps import slack_blocks
from rag.evaluation import conflict_pairs
from rag.ingest import corpus
from rag.present import present
from rag.service import RAG
from rag.stores import faiss_bm25 as store
from tests.conftest import REPO, serve_page, write_article
from tests.test_browser import (  # noqa: F401 (driver and page are fixtures)
    CHROMEDRIVER,
    CHROMIUM,
    ask,
    driver,
    find,
    page,
    screenshot,
    shot_on_failure,
    wait,
)

PAIRS = REPO / "eval" / "conflicts"


def _training_sets() -> list[Path]:
    return [PAIRS / f"{name}.jsonl" for name in quantities.shipped_model().trained_on]


def test_the_shipped_quantity_model_is_what_its_pair_sets_fit() -> None:
    """`rag train-conflicts --hold-out heldout5` reproduces the shipped file."""
    shipped = quantities.shipped_model()
    refit = conflict_pairs.fit(_training_sets(), shipped.precision_target)
    for name in ("mean", "scale", "weights"):
        assert getattr(refit, name) == pytest.approx(getattr(shipped, name), abs=1e-6), name
    assert (refit.bias, refit.threshold) == pytest.approx((shipped.bias, shipped.threshold))
    assert refit.trained_on == shipped.trained_on


@pytest.mark.slow
def test_the_conflict_decision_on_topics_it_was_not_fitted_on() -> None:
    """Each training set scored by a model fitted on the others (measured: precision 0.84 to
    0.94, recall 0.86 to 1.00; the unit-only rule before: precision 0.45), gated a little
    under what was measured."""
    for name, report in conflict_pairs.leave_one_set_out(_training_sets()).items():
        now, before = report.scores(), report.scores("before")
        assert now["precision"] >= 0.75 and now["recall"] >= 0.8, (name, now)
        assert before["precision"] < 0.5  # the sets hold real look-alikes


def test_the_conflict_decision_on_a_held_out_pair_set() -> None:
    """The shipped model on the pair set written after it was fitted, by a helper that saw
    neither the code nor the other sets (heldout5, 80 pairs, 88% cross-language). Measured:
    precision 0.76, recall 0.78 (0.72 / 0.72 before the review's fixes); the unit-only rule
    before: 0.44 / 1.00. The issue's targets (0.95 / 0.90) are not met; gated a little under
    what was measured."""
    trained = set(quantities.shipped_model().trained_on)
    held = [p for p in sorted(PAIRS.glob("*.jsonl")) if p.stem not in trained]
    assert [p.stem for p in held] == ["heldout5"]
    report = conflict_pairs.evaluate(held[0])
    now, before = report.scores(), report.scores("before")
    assert now["precision"] >= 0.72 and now["recall"] >= 0.74, now
    assert now["precision"] > before["precision"] + 0.2


def _one(sentence: str, lang: str, title: str = "", date: str | None = None) -> quantities.Reported:
    (first, *_) = quantities.reported_figures(sentence, lang, title, date)
    return first


def test_look_alikes_are_different_quantities_and_scripts_do_not_matter() -> None:
    """Each look-alike is told apart by the reading it is about, and a name is matched in
    either script."""
    total = _one("Chinese firms have ordered 2 million H200 chips for 2026.", "en")
    each = _one("Alibaba and ByteDance are ready to order 200,000 Nvidia chips each.", "en")
    assert quantities.difference(total, each) == "per unit vs total"
    alibaba = _one("Alibaba ordered 200,000 H200 chips.", "en")
    tencent = _one("腾讯订购了30万颗H200芯片。", "zh")
    assert quantities.difference(alibaba, tencent) == "two different subjects"
    assert quantities.conflicts(alibaba, _one("阿里巴巴订购了30万颗H200芯片。", "zh"))
    assert quantities.agrees(alibaba, _one("阿里巴巴订购了20万颗H200芯片。", "zh"))
    peak = _one("Alibaba's shares rose as much as 4.8% in Hong Kong.", "en")
    close = _one("Alibaba's shares rose 6.35% in Hong Kong.", "en")
    assert quantities.difference(peak, close) == "a peak, opening or capacity vs a level"
    q3 = _one("Revenue was $51.2 billion in the third fiscal quarter.", "en")
    q2 = _one("Revenue was $41.1 billion in the second quarter.", "en")
    assert quantities.difference(q3, q2) == "different period"
    plan = _one("Intel expects revenue of $13.5 billion in the fourth quarter.", "en")
    actual = _one("Intel's revenue was $12.9 billion in the fourth quarter.", "en")
    assert quantities.difference(plan, actual) == "forecast vs actual"
    rose, fell = (_one(f"Alibaba's shares {verb} 5% on Monday.", "en") for verb in ("rose", "fell"))
    assert not quantities.agrees(rose, fell) and quantities.agrees(rose, rose)


def test_a_name_is_matched_as_a_word_and_a_currency_is_no_name() -> None:
    """Intel is not "interest", and "U.S." or "HK" are names, not the currencies US$ and HK$."""
    intel = _one("Intel's revenue was $12.9 billion in the third quarter.", "en")
    rates = _one("Interest income was $14.1 billion in the third quarter.", "en")
    assert "intel" in intel.subjects
    us = _one("U.S. GDP grew 2.1% in the third quarter.", "en")
    china = _one("China's GDP grew 4.8% in the third quarter.", "en")
    assert quantities.difference(us, china) == "two different subjects"
    assert not quantities._written_in("intel", rates.context)
    assert quantities._written_in("china", "chinese firms")  # a stem with a short ending


@pytest.fixture(scope="module")
def spec_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
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
    return index


@pytest.fixture(scope="module")
def spec_rag(spec_index: Path) -> RAG:
    return RAG(spec_index)


def test_agreeing_sources_are_counted_and_the_minority_is_shown(spec_rag: RAG) -> None:
    answer = spec_rag.ask("How much HBM4 memory does the H300 have?")
    view = present(answer, spec_rag.index.article)
    assert view.direct.startswith("Answer: 192GB") and "3 sources agree on 192GB." in view.answer, (
        view.answer
    )
    (conflict,) = answer.conflicts
    minority = [v for v in conflict["values"] if v["minority"]]
    assert [(v["text"], v["doc_id"], v["date"]) for v in minority] == [
        ("96GB", "leak", "2026-02-20")
    ]
    assert any("minority" in line for line in view.conflicts)  # what the CLI prints
    slack = json.dumps(slack_blocks.answer_blocks(view), ensure_ascii=False)
    assert "3 sources agree on 192GB." in slack and "96GB" in slack and "minority" in slack
    assert langmod.sources_agree("de", 3, "192GB") == "3 Quellen nennen übereinstimmend 192GB."
    assert langmod.sources_agree("zh", 3, "192GB") == "3 个来源一致：192GB。"


browser = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()), reason="needs Chromium and chromedriver"
)


@browser
def test_the_page_shows_a_true_conflict_with_its_minority(spec_index: Path, driver: Any) -> None:  # noqa: F811
    """192GB from two outlets against a leaked 96GB: the answer says two sources agree, and
    the evidence panel's "The sources differ" table marks 96GB as the minority."""
    with serve_page(spec_index) as url, shot_on_failure(driver, "conflict"):
        driver.get(url)
        ask(driver, "How much HBM4 memory does the H300 have?")
        wait(driver, lambda d: find(d, ".evidence table.conflicts"))
        answer = find(driver, "#chat [data-testid=bot] .message-content")[-1].text
        assert "192GB" in answer and "3 sources agree on 192GB." in answer, answer
        table = find(driver, ".evidence table.conflicts")[0].text
        assert "96GB" in table and "minority (one source)" in table, table
        screenshot(driver, "conflict")


@browser
def test_the_page_does_not_call_a_look_alike_a_conflict(page: str, driver: Any) -> None:  # noqa: F811
    """200,000 chips per company and 2 million in total are both quoted, with no "sources
    differ" table: they are different quantities."""
    with shot_on_failure(driver, "lookalike"):
        driver.get(page)
        ask(driver, "How many H200 chips will Chinese companies order?")
        wait(driver, lambda d: find(d, "#src-2 mark"))
        evidence = find(driver, ".evidence")[0].text
        assert "200,000" in evidence and "2 million" in evidence
        assert find(driver, ".evidence table.conflicts") == []
        assert "The sources differ" not in evidence
        screenshot(driver, "lookalike")


def test_an_untrusted_article_corroborates_nothing_and_makes_no_majority() -> None:
    """Two trusted outlets give 192GB, one trusted leak 96GB, and two planted articles 96GB:
    192GB stays the value most sources give, 96GB is the minority, and only the trusted
    articles are counted."""

    def cited(n: int, doc: str, gb: int, untrusted: bool = False) -> Citation:
        quote = f"The H300 has {gb}GB of HBM4 memory."
        return Citation(n, doc, f"{doc}: the H300", "2026-03-01", "en", quote, 0, len(quote),
                        untrusted)  # fmt: skip

    citations = [cited(1, "plant1", 96, True), cited(2, "plant2", 96, True), cited(3, "wire", 192),
                 cited(4, "daily", 192), cited(5, "leak", 96)]  # fmt: skip
    groups = quoting.same_quantity_values(quoting.lead_figures(citations, "measure"))
    (conflict,) = quoting.figure_conflicts(groups)
    support = {v["text"]: (v["sources"], v["minority"]) for v in conflict["values"]}
    assert support == {"192GB": (2, False), "96GB": (1, True)}
    assert [a["text"] for a in quoting.figure_agreements(groups)] == ["192GB"]
