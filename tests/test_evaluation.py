"""The figure eval set is sound, `rag eval` writes its report, and quality stays above the gate."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rag.checks.figures import extract, matches
from rag.errors import RagError
from rag.evaluation.figure_set import (
    AnswererRun,
    gate,
    load_eval_set,
    load_thresholds,
    run_eval,
    write_report,
)
from rag.ingest import corpus
from rag.service import RAG
from tests.conftest import DOC_ZH, REPO, SEED_CORPUS

EVAL_SET = REPO / "eval" / "figures.jsonl"
THRESHOLDS = REPO / "eval" / "thresholds.json"


@pytest.fixture(scope="module")
def items() -> list:
    return load_eval_set(EVAL_SET)


def test_the_set_covers_what_the_issue_asks(items: list) -> None:
    articles = {a.doc_id: a for a in corpus.load_articles([SEED_CORPUS])}
    langs = {i.lang for i in items}
    assert len(items) >= 60 and {"en", "es", "de", "zh", "fr"} <= langs
    assert sum(not i.answerable for i in items) >= 8
    assert sum("conflict" in i.tags for i in items) >= 3
    assert sum(i.sources == (DOC_ZH,) for i in items if i.answerable) >= 8
    cross = [
        i for i in items if i.answerable and all(articles[d].lang != i.lang for d in i.sources)
    ]
    assert len(cross) >= 20


def test_every_expected_figure_is_in_one_of_its_source_articles(items: list) -> None:
    """Catches a typo in the set: the expected value must be read from a named source."""
    articles = {a.doc_id: a for a in corpus.load_articles([SEED_CORPUS])}
    for item in items:
        for expected in item.figures:
            found = [
                d
                for d in item.sources
                if any(matches(expected, f) for f in extract(articles[d].text, articles[d].lang))
            ]
            assert found, (item.id, expected)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "a", "q": "x", "lang": "en"}', "not a valid eval item"),
        ('{"id": "a", "q": "x", "lang": "en", "answerable": true}', "needs sources and figures"),
        ("not json", "not a valid eval item"),
    ],
)
def test_a_bad_eval_set_is_reported_with_its_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text("\n" + line + "\n", encoding="utf-8")
    with pytest.raises(RagError, match=rf"set.jsonl:2: .*{message}"):
        load_eval_set(path)


def test_gate_names_each_metric_below_its_minimum() -> None:
    summary = {"figure_accuracy": 0.5, "retrieval": {"recall@6": 0.9}}
    minimums = {"figure_accuracy": 0.6, "retrieval.recall@6": 0.8, "abstention_recall": 0.5}
    assert gate(summary, minimums) == [
        "figure_accuracy: 0.5 < minimum 0.6",
        "abstention_recall: not measured (minimum 0.5)",
    ]


@pytest.fixture(scope="module")
def extractive_run(seed_rag: RAG, items: list) -> AnswererRun:
    return run_eval(seed_rag, items, "extractive", progress=False)


def test_ci_gate_figure_quality_stays_above_the_committed_thresholds(
    extractive_run: AnswererRun,
) -> None:
    minimums = load_thresholds(THRESHOLDS)["figures"]
    assert gate(extractive_run.summary, minimums) == [], extractive_run.summary


def test_extractive_figures_are_all_supported_and_latency_is_measured(
    extractive_run: AnswererRun,
) -> None:
    summary = extractive_run.summary
    assert summary["figures_checked"] > 0 and summary["figures_unsupported"] == 0.0
    assert {"embed", "search", "answer", "total"} <= set(summary["latency_ms"])
    assert (
        summary["answered"] + sum(r.abstained for r in extractive_run.records if r.answerable)
        == summary["answerable"]
    )


def test_report_has_markdown_json_and_plots(extractive_run: AnswererRun, tmp_path: Path) -> None:
    meta = {"set": "s", "questions": 1, "index": "i", "documents": 5, "embedder": "e",
            "started": "now", "machine": "m"}  # fmt: skip
    written = write_report(tmp_path, [extractive_run], meta)
    assert {p.name for p in written} == {
        "report.json", "report.md", "accuracy-extractive.png", "latency.png"
    }  # fmt: skip
    for png in tmp_path.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert (
        data["runs"][0]["summary"]["figure_accuracy"] == extractive_run.summary["figure_accuracy"]
    )
    assert "| figure accuracy |" in (tmp_path / "report.md").read_text(encoding="utf-8")


def test_rag_eval_cli_writes_a_report_and_gates(seed_index_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    small = tmp_path / "small.jsonl"
    lines = EVAL_SET.read_text(encoding="utf-8").splitlines()
    small.write_text("\n".join(lines[:3] + lines[-2:]) + "\n", encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "rag.apps.cli", "eval", "--index", str(seed_index_copy), "--set",
         str(small), "--out", str(out), "--quiet"],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "figure accuracy" in run.stdout
    (report,) = out.glob("*/report.md")
    assert (report.parent / "latency.png").exists()

    strict = tmp_path / "strict.json"
    strict.write_text(json.dumps({"figures": {"figure_accuracy": 1.01}}), encoding="utf-8")
    failed = subprocess.run(
        [sys.executable, "-m", "rag.apps.cli", "eval", "--index", str(seed_index_copy), "--set",
         str(small), "--out", str(out), "--quiet", "--gate", "--thresholds", str(strict)],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )  # fmt: skip
    assert failed.returncode == 1
    assert failed.stderr.startswith("rag: error: below the committed thresholds: extractive")
    assert "Traceback" not in failed.stderr
