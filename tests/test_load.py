"""`rag bench load` in small: concurrent questions to the real page and Slack bot (each in its
own process), an ingest by another process while they answer, and the front ends' backend
picking up an index another process wrote. Asserts answers and errors, never times."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rag.answers import Answer
from rag.apps.backend import ChatBackend
from rag.config import Settings
from rag.evaluation import load
from tests.conftest import DOC_EN_ORDERS, REPO

pytest.importorskip("slack_bolt")
pytest.importorskip("gradio")

KESTREL = load.NEW_ARTICLES[0]


def _rag_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`rag ...` in another process, as an operator would run it beside a serving front end."""
    return subprocess.run(
        [sys.executable, "-m", "rag.apps.cli", *args],
        cwd=REPO, capture_output=True, text=True, check=True,
    )  # fmt: skip


def test_concurrent_questions_an_ingest_by_another_process_and_a_soak_stay_correct(
    seed_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the servers import this checkout
    options = load.Options(requests=6, concurrency=6, with_ingest=True, duration_s=4, rate=3,
                           index=seed_index, progress=False)  # fmt: skip
    result = load.run(options, tmp_path)

    for target in load.TARGETS:
        burst = result["concurrent"][target]
        assert (burst["correct"], burst["wrong"], burst["errors"]) == (6, 0, 0), burst
        assert burst["first"]["correct"], burst["first"]
        during = result["ingest"]["while_ingesting"][target]
        assert during["requests"] >= 6 and during["errors"] == 0 and during["wrong"] == 0, during
        whole = result["ingest"]["all"][target]
        assert whole["correct"] == whole["requests"], whole
    ingest = result["ingest"]
    assert ingest["swap_at_s"] is not None  # the index did move to a new version meanwhile
    flight = ingest["in_flight_at_swap"]
    assert flight["correct"] == flight["requests"]
    # Without a restart, both front ends answer from the articles the other process added.
    assert {(p["target"], p["question"]) for p in ingest["pickup"] if p["correct"]} == {
        (t, a.probe.question) for t in load.TARGETS for a in load.NEW_ARTICLES
    }, ingest["pickup"]
    soak = result["soak"]
    for target in load.TARGETS:
        steady = soak["by_target"][target]
        assert steady["requests"] == 6 and steady["correct"] == 6, steady  # 4 s × 3/s, in turn
    assert len(soak["samples"]) >= 2  # memory at the start and at the end
    assert all(v is None or v > 0 for v in result["rss_end_mb"].values())
    report = load.render(result)
    assert "| web | 6 | 6 | 0 | 0 |" in report and "| slack | 6 | 6 | 0 | 0 |" in report


def test_the_backend_answers_from_an_index_another_process_wrote(
    seed_index_copy: Path, tmp_path: Path
) -> None:
    backend = ChatBackend(seed_index_copy, "extractive", Settings(index_dir=seed_index_copy))
    before = backend.ask_json(KESTREL.probe.question)
    assert KESTREL.probe.figure not in before["answer"]  # not in the seed articles
    folder = load.write_new_articles(tmp_path / "new")
    _rag_cli("ingest", str(folder), "--index", str(seed_index_copy), "--quiet")
    after = backend.ask_json(KESTREL.probe.question)
    assert KESTREL.probe.figure in after["answer"] and after["citations"][0]["doc_id"] == (
        KESTREL.doc_id
    )
    assert KESTREL.doc_id in {row["doc_id"] for row in backend.articles()}


def test_an_answer_is_shown_from_the_version_that_gave_it(seed_index_copy: Path) -> None:
    """Another process removes the cited article between the answer and its rendering: the
    view still quotes the article from the version that answered."""
    backend = ChatBackend(seed_index_copy, "extractive", Settings(index_dir=seed_index_copy))
    question = load.SEED_PROBES[0].question
    answer = next(e for e in backend.ask_stream(question) if isinstance(e, Answer))
    cited = answer.citations[0]
    assert cited.doc_id == DOC_EN_ORDERS
    _rag_cli("remove", DOC_EN_ORDERS, "--index", str(seed_index_copy))
    backend.ask_json(load.SEED_PROBES[2].question)  # a later question loads the new version
    assert DOC_EN_ORDERS not in {row["doc_id"] for row in backend.articles()}
    view = backend.view(answer)
    source = view.sources[0]
    assert source.doc_id == DOC_EN_ORDERS
    assert source.article[source.start : source.end] == cited.quote


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--targets", "web,teams"], "--targets takes web,slack"),
        (["--requests", "0"], "--requests and --concurrency must be at least 1"),
        (["--rate", "0", "--duration", "5"], "--rate more than 0"),
        (["--index", "no-such-index"], "no index at no-such-index"),
    ],
)
def test_bad_load_options_are_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from rag.apps.cli import main

    assert main(["bench", "load", "--quiet", *args]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("rag: error:") and message in err and "\n" not in err
