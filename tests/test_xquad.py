"""XQuAD benchmark: its parts, the CLI, and the CI gate on a fixed subset."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rag.errors import RagError
from rag.evaluation import xquad
from rag.evaluation.figure_set import gate, load_thresholds
from tests.conftest import REPO

DATA = REPO / "eval" / "data" / "xquad"
THRESHOLDS = REPO / "eval" / "thresholds.json"
GATE_PAIRS = "en-en,en-zh,zh-en,de-es"
GATE_LIMIT = 40  # paragraphs (of 240) with their questions: a few minutes at most on 2 cores


def test_pairs_default_to_all_sixteen_and_bad_ones_are_named() -> None:
    assert len(xquad.parse_pairs("all")) == 16
    assert xquad.parse_pairs("en-zh, de-de") == [("en", "zh"), ("de", "de")]
    with pytest.raises(RagError, match="bad pair 'en-fr'"):
        xquad.parse_pairs("en-fr")


def test_languages_are_parallel_and_limit_keeps_whole_paragraphs() -> None:
    en = xquad.load(DATA, "en", limit=5)
    zh = xquad.load(DATA, "zh", limit=5)
    assert len(en.paragraphs) == 5 and {p for _, _, p in en.questions} <= set(en.paragraphs)
    assert [q[0] for q in en.questions] == [q[0] for q in zh.questions]
    assert en.answers[en.questions[0][0]] == ["308"]
    with pytest.raises(RagError, match="cannot read XQuAD file"):
        xquad.load(DATA, "fr")


def test_answer_containment_ignores_case_and_spacing() -> None:
    assert xquad.contains_answer(["黑豹队的防守只丢了 308分。"], ["308 分"])
    assert xquad.contains_answer(["The Denver Broncos won."], ["denver broncos"])
    assert not xquad.contains_answer(["The Panthers lost."], ["Broncos"])


def test_ranking_metrics() -> None:
    assert xquad.ranking_metrics([1, 2, None, 11]) == {
        "recall@1": 0.25, "recall@5": 0.5, "recall@10": 0.5, "mrr": 0.375,
    }  # fmt: skip


def test_ci_gate_xquad_subset_stays_above_the_committed_thresholds(tmp_path: Path) -> None:
    """Product and llama-index baseline measured side by side on the same subset."""
    result = xquad.run(
        DATA, xquad.parse_pairs(GATE_PAIRS), tmp_path, limit=GATE_LIMIT, progress=False
    )
    minimums = load_thresholds(THRESHOLDS)["xquad_subset"]
    assert gate(result["summary"], minimums) == [], result["summary"]
    assert {b["baseline_nodes"] for b in result["builds"].values()} == {GATE_LIMIT}


def test_rag_bench_xquad_writes_its_report(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    run = subprocess.run(
        [sys.executable, "-m", "rag.apps.cli", "bench", "xquad", "--pairs", "en-zh", "--limit", "6",
         "--out", str(out), "--quiet"],
        capture_output=True, text=True, cwd=REPO, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("en→zh: recall@1 ")
    (report,) = out.glob("*-xquad/report.md")
    text = report.read_text(encoding="utf-8")
    assert "| en→zh |" in text and "MRR gain" in text
    assert (report.parent / "recall5-baseline.png").exists()

    bad = subprocess.run(
        [sys.executable, "-m", "rag.apps.cli", "bench", "xquad", "--pairs", "xx-en"],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )  # fmt: skip
    assert bad.returncode == 1 and bad.stderr.startswith("rag: error: bad pair 'xx-en'")
