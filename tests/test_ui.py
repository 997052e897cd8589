"""The chat page: its turns and evidence panel rendered from the presentation model, and the
real Gradio server answering over HTTP (`/chat`, `/ask`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from rag.apps import web
from rag.checks.citations import sentence_support
from rag.config import Settings
from rag.errors import RagError
from rag.service import RAG
from tests.conftest import DOC_DE, DOC_EN_ORDERS, REPO, free_port, serve_page


def _turn(backend: web.ChatBackend, message: str, asked: list[str] | None = None) -> list:
    return list(web.chat_turn(backend, message, [], asked or [], web.Ask()))


def test_a_turn_shows_progress_then_the_cited_answer_and_its_evidence(seed_index: Path) -> None:
    steps = _turn(web.ChatBackend(seed_index), "Wie viele H200-Einheiten will Alibaba abnehmen?")
    assert steps[0][0][-1]["content"] == web.WORKING
    history, panel, asked, record = steps[-1]
    message = history[-1]["content"]
    assert (
        message.startswith("Antwort: 200.000")
        and '<a href="#src-1" class="cite">[1]</a>' in message
    )
    assert "id='src-1'" in panel and DOC_DE in panel and "Alibaba im Aufwind" in panel
    assert "<mark>Wie ernst es Alibaba meint" in panel  # the quote marked inside its paragraph
    assert "Open the whole article" in panel and asked == [record["question"]]
    assert record["answer"]["citations"][0]["doc_id"] == DOC_DE


def test_a_follow_up_is_read_with_the_previous_subject(seed_index: Path) -> None:
    backend = web.ChatBackend(seed_index)
    previous = "How many Nvidia chips is Alibaba ready to order?"
    history, _, asked, _ = _turn(backend, "and ByteDance?", [previous])[-1]
    assert asked[-1] == "How many Nvidia chips is ByteDance ready to order?"
    assert (
        "Understood as: How many Nvidia chips is ByteDance ready to order?"
        in (history[-1]["content"])
    )


def test_errors_become_messages(seed_index: Path) -> None:
    history, *_ = _turn(web.ChatBackend(seed_index), "   ")[-1]
    assert history[-1]["content"].startswith("⚠️") and "empty" in history[-1]["content"]
    bad = web.Ask(since="last week")
    steps = list(web.chat_turn(web.ChatBackend(seed_index), "Wer?", [], [], bad))
    assert "2026-01-31" in steps[-1][0][-1]["content"]


def test_an_abstention_is_plain_and_shows_the_closest_passages(seed_index: Path) -> None:
    history, panel, *_ = _turn(web.ChatBackend(seed_index), "Who is the CEO of Alibaba?")[-1]
    assert "don't say" in history[-1]["content"] and "id='src-" not in panel
    assert "Closest passages (not good enough to answer from)" in panel


def test_conflicts_are_a_table_and_unverified_parts_are_marked(seed_rag: RAG) -> None:
    from rag.present import present

    answer = seed_rag.ask("How many H200 chips will Chinese companies order?")
    # per company vs in total: both quoted, no "sources differ" (issue 20)
    assert "<table class='conflicts'>" not in web.evidence_html(
        present(answer, seed_rag.index.article)
    )
    first, second = answer.citations[:2]
    values = [{"text": "2 million", "citation": first.n, "doc_id": first.doc_id,
               "date": first.date, "sources": 2, "minority": False},
              {"text": "200,000", "citation": second.n, "doc_id": second.doc_id,
               "date": second.date, "sources": 1, "minority": True}]  # fmt: skip
    differing = replace(answer, conflicts=[{"unit": None, "kind": "number", "values": values}])
    panel = web.evidence_html(present(differing, seed_rag.index.article))
    assert "<table class='conflicts'>" in panel and "<td>2 million</td>" in panel
    assert "minority (one source)" in panel
    flagged = replace(
        answer,
        answer="They order 3 million chips.",
        sentences=sentence_support("They order 3 million chips."),
        removed=[
            {"text": "Each buys 9 GB [1].", "reason": "9 GB not found in the source it cites"}
        ],
    )
    view = present(flagged, seed_rag.index.article)
    assert "unsupported" in web.answer_markdown(view)
    assert "removed (9 GB not found in the source it cites)" in web.evidence_html(view)


@pytest.fixture(scope="module")
def served(seed_index: Path) -> Iterator[str]:
    with serve_page(seed_index) as url:
        yield url


def test_page_is_served_on_loopback_with_no_external_assets(served: str) -> None:
    import urllib.request

    with urllib.request.urlopen(served, timeout=30) as response:
        page = response.read().decode()
    assert "News Q&amp;A with citations" in page or "News Q&A with citations" in page
    assert "fonts.googleapis.com" not in page


def test_chat_api_answers_a_german_question_with_citations(served: str) -> None:
    from gradio_client import Client

    text = Client(served, verbose=False).predict(
        "Wie viele H200-Einheiten will Alibaba abnehmen?", api_name="/chat"
    )
    assert "200.000" in text and "[1] Alibaba im Aufwind" in text


def test_ask_api_returns_the_cli_json(served: str, seed_index: Path) -> None:
    from gradio_client import Client

    question = "How much HBM3E memory does the H200 have?"
    page = Client(served, verbose=False).predict(question, "", 0, api_name="/ask")
    cli = subprocess.run(
        [sys.executable, "-m", "rag.apps.cli", "ask", "--json", question, "--index",
         str(seed_index)],
        capture_output=True, text=True, cwd=REPO, timeout=300, env=dict(os.environ),
    )  # fmt: skip
    expected = json.loads(cli.stdout)
    for data in (page, expected):
        data.pop("timings_ms")
    assert page == expected and page["citations"][0]["doc_id"] == DOC_EN_ORDERS


@pytest.fixture
def writable_page(seed_index_copy: Path) -> Iterator[str]:
    """A page over a private index copy, for uploads, removals and feedback."""
    with serve_page(seed_index_copy) as url:
        yield url


def test_an_uploaded_article_is_cited_and_a_bad_upload_is_rejected_with_its_reason(
    writable_page: str, tmp_path: Path
) -> None:
    from gradio_client import Client, handle_file

    good = tmp_path / "zephyr.md"
    good.write_text(
        "# Zephyr-9 launch\n\nThe Zephyr-9 chip has 96 GB of memory, its maker said on Monday.\n",
        encoding="utf-8",
    )
    bad = tmp_path / "photo.txt"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00binary")
    client = Client(writable_page, verbose=False)
    status, *_ = client.predict([handle_file(str(good)), handle_file(str(bad))], api_name="/upload")
    assert "**added**: zephyr" in status
    assert "rejected** photo.txt" in status and "binary" in status
    answer = client.predict("How much memory does the Zephyr-9 chip have?", "", 0, api_name="/ask")
    assert not answer["abstained"] and answer["citations"][0]["doc_id"] == "zephyr"
    status, *_ = client.predict("zephyr", api_name="/remove")
    assert status == "Removed zephyr."


def test_feedback_is_stored_and_exported(writable_page: str, seed_index_copy: Path) -> None:
    from gradio_client import Client

    client = Client(writable_page, verbose=False)
    question = "Wie viele H200-Einheiten will Alibaba abnehmen?"
    answer = client.predict(question, "", 0, api_name="/ask")
    assert client.predict(question, answer, "down", "wanted ByteDance too", api_name="/feedback")
    assert client.predict(question, answer, "sideways", "", api_name="/feedback").startswith(
        "error: "
    )
    out = subprocess.run(
        [sys.executable, "-m", "rag.apps.cli", "feedback", "export", "--index",
         str(seed_index_copy)],
        capture_output=True, text=True, cwd=REPO, timeout=300, env=dict(os.environ),
    )  # fmt: skip
    (item,) = [json.loads(line) for line in out.stdout.splitlines()]
    assert item["q"] == question and item["tags"] == ["feedback", "down"]
    assert item["feedback"]["comment"] == "wanted ByteDance too" and DOC_DE in item["sources"]


def test_basic_auth_guards_a_shared_page(seed_index: Path) -> None:
    import urllib.error
    import urllib.request

    assert web.parse_auth(None) is None and web.parse_auth("ana:s3cret") == ("ana", "s3cret")
    with pytest.raises(RagError, match="user:password"):
        web.parse_auth("ana")
    app = web.create_app(web.ChatBackend(seed_index, settings=Settings(index_dir=seed_index)))
    port = free_port()
    web.launch(app, "127.0.0.1", port, ("ana", "s3cret"), prevent_thread_lock=True, quiet=True)
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=30)
        assert refused.value.code == 401
    finally:
        app.close()
