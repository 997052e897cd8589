"""Readers' 👍/👎: kept in SQLite beside the index, safe for threads, exported as draft eval
items that the eval loader refuses until a reviewer finishes them."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from rag.apps.cli import main
from rag.errors import InputError
from rag.evaluation.figure_set import load_eval_set
from rag.feedback import FeedbackStore, export_eval_items, feedback_path
from rag.service import RAG
from tests.conftest import DOC_EN_ORDERS


def _answer(doc_ids: list[str], abstained: bool = False) -> dict[str, Any]:
    """The shape of Answer.to_dict(), small."""
    return {
        "answer": "" if abstained else "The H200 has 141GB of HBM3E memory [1].",
        "abstained": abstained,
        "citations": [
            {
                "n": n,
                "doc_id": d,
                "title": "t",
                "date": None,
                "lang": "en",
                "quote": "q",
                "start": 0,
                "end": 1,
            }
            for n, d in enumerate(doc_ids, start=1)
        ],
        "question_lang": "en",
        "answerer": "extractive",
        "figures": [
            {
                "text": "141GB",
                "value": 141.0,
                "high": None,
                "unit": "GB",
                "kind": "amount",
                "supported": True,
                "citation": 1,
            },
            {
                "text": "2023",
                "value": 20230000,
                "high": None,
                "unit": "date",
                "kind": "date",
                "supported": False,
                "citation": None,
            },
        ]
        if not abstained
        else [],
    }


def test_record_and_list(tmp_path: Path) -> None:
    store = FeedbackStore(feedback_path(tmp_path / "index"))
    assert store.all() == [] and not store.path.exists()  # reading creates nothing
    first = store.record("How much memory has the H200?", _answer(["a", "b", "a"]), "up")
    second = store.record("Who is Alibaba's CEO?", _answer([], True), " DOWN ", "it says so")
    assert store.path == tmp_path / "index" / "feedback.sqlite" and second == first + 1
    up, down = store.all()
    assert (up.id, up.verdict, up.comment) == (first, "up", "")
    assert (up.answerer, up.question_lang) == ("extractive", "en")
    assert up.answer == _answer(["a", "b", "a"]) and up.created_at.endswith("+00:00")
    assert (down.verdict, down.comment, down.answer["abstained"]) == ("down", "it says so", True)


@pytest.mark.parametrize("verdict", ["meh", "", "👍"])
def test_a_bad_verdict_is_refused_in_one_line(tmp_path: Path, verdict: str) -> None:
    store = FeedbackStore(tmp_path / "f.sqlite")
    with pytest.raises(InputError, match="verdict must be 'up' or 'down'") as err:
        store.record("q?", _answer([]), verdict)
    assert "\n" not in str(err.value)
    assert store.all() == []


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    stores = [FeedbackStore(tmp_path / "f.sqlite") for _ in range(2)]  # two page workers

    def write(n: int) -> None:
        for i in range(10):
            stores[n % 2].record(f"question {n}-{i}?", _answer(["a"]), "up" if i % 2 else "down")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    records = stores[0].all()
    assert len(records) == 60 and len({r.id for r in records}) == 60


def _race_on_a_new_file(path: Path) -> list[BaseException]:
    """8 writers (3 rows each) and 3 readers on 4 stores of one file that does not exist yet;
    returns what the threads raised (a thread's exception is otherwise lost)."""
    stores = [FeedbackStore(path) for _ in range(4)]
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(3):
                stores[n % 4].record(f"question {n}-{i}?", _answer(["a"]), "up")
        except BaseException as err:
            errors.append(err)

    def read(n: int) -> None:
        try:
            for _ in range(3):
                stores[n % 4].all()
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    threads += [threading.Thread(target=read, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_racing_the_first_write_to_a_new_file_loses_nothing(tmp_path: Path) -> None:
    """CI once lost a thread's rows here: while one connection switched a new file to WAL,
    another was told "database is locked" at once, with no busy wait."""
    for trial in range(15):
        path = tmp_path / f"f{trial}.sqlite"
        assert _race_on_a_new_file(path) == []
        assert len(FeedbackStore(path).all()) == 24


def test_export_drafts(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "f.sqlite")
    store.record("How much memory has the H200?", _answer(["a", "b", "a"]), "up")
    store.record("What bandwidth has the H200?", _answer(["b"]), "down", "wrong figure")
    store.record("Who is Alibaba's CEO?", _answer([], True), "up")
    store.record("What is Nvidia's dividend?", _answer([], True), "down")
    liked, disliked, agreed_abstention, wanted = export_eval_items(store.all())
    assert liked["id"] == "fb-1" and liked["lang"] == "en" and liked["answerable"] is True
    assert liked["sources"] == ["a", "b"] and liked["match"] == "any"
    assert liked["figures"] == [{"text": "141GB", "value": 141.0, "unit": "GB"}]  # verified only
    assert liked["tags"] == ["feedback", "up"]
    assert liked["feedback"]["answer"].startswith("The H200 has 141GB")
    assert disliked["figures"] == [] and disliked["answerable"] is True
    assert disliked["feedback"]["comment"] == "wrong figure"
    assert disliked["tags"] == ["feedback", "down"]
    assert agreed_abstention["answerable"] is False and agreed_abstention["why"]
    assert wanted["answerable"] is True and wanted["sources"] == []


def test_the_eval_loader_refuses_an_unfinished_draft(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "f.sqlite")
    store.record("How much memory has the H200?", _answer(["a"]), "up")
    store.record("What bandwidth has the H200?", _answer(["b"]), "down")
    liked, disliked = export_eval_items(store.all())
    finished = tmp_path / "finished.jsonl"
    finished.write_text(json.dumps(liked) + "\n", encoding="utf-8")
    assert [i.id for i in load_eval_set(finished)] == ["fb-1"]
    draft = tmp_path / "draft.jsonl"
    draft.write_text(json.dumps(disliked) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="needs sources and figures"):
        load_eval_set(draft)


def test_cli_export_of_a_real_answer(
    seed_rag: RAG, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index = tmp_path / "ix"
    answer = seed_rag.ask("How much HBM3E memory does the H200 have?")
    assert not answer.abstained
    store = FeedbackStore(feedback_path(index))
    store.record("How much HBM3E memory does the H200 have?", answer.to_dict(), "up", "right")
    store.record("Wie viele Chips?", answer.to_dict(), "down")
    out = tmp_path / "drafts" / "feedback.jsonl"
    assert main(["feedback", "export", "--index", str(index), "--out", str(out)]) == 0
    assert "2 draft eval items" in capsys.readouterr().out
    first, second = (json.loads(line) for line in out.read_text(encoding="utf-8").splitlines())
    assert DOC_EN_ORDERS in first["sources"]
    assert first["sources"] == list(dict.fromkeys(c.doc_id for c in answer.citations))
    assert first["tags"] == ["feedback", "up"] and first["feedback"]["comment"] == "right"
    assert any(f["value"] == 141 and f["unit"] == "GB" for f in first["figures"])
    assert second["tags"] == ["feedback", "down"] and second["figures"] == []

    assert main(["feedback", "export", "--index", str(index)]) == 0  # to stdout
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["fb-1", "fb-2"]
    assert main(["feedback", "list", "--index", str(index)]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 2 and " up " in listed[0] and "right" in listed[0]


def test_cli_without_feedback_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["feedback", "export", "--index", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("rag: error: no feedback at") and "\n" not in err
