"""The chat page: its adapter over RAG.ask, and the real Gradio server answering over HTTP."""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import pytest

from rag.answers import Answer
from rag.apps import web as ui
from rag.service import RAG


def test_respond_shows_progress_then_cited_answer(seed_index: Path) -> None:
    backend = ui.ChatBackend(seed_index)
    steps = list(backend.respond("美国将从H200芯片出口中收取多少分成？", []))
    assert steps[0] == ui.WORKING
    assert "25%" in steps[-1] and "**Sources**" in steps[-1] and "[1]" in steps[-1]
    assert "004_fd1bfc3e605606be" in steps[-1]


def test_respond_turns_errors_into_messages(seed_index: Path) -> None:
    steps = list(ui.ChatBackend(seed_index).respond("   ", []))
    assert steps[-1].startswith("⚠️") and "empty" in steps[-1]


def test_abstention_is_shown_without_sources(seed_index: Path) -> None:
    final = list(ui.ChatBackend(seed_index).respond("Who won the 2022 football World Cup?", []))[-1]
    assert "don't say" in final and "Sources" not in final


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_page_is_served_on_loopback(seed_index: Path) -> None:
    pytest.importorskip("gradio")
    app = ui.build_app(ui.ChatBackend(seed_index))
    port = _free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as response:
            assert response.status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=30) as response:
            assert "News Q&A with citations" in response.read().decode()
    finally:
        app.close()


def test_page_shows_conflicting_figures_and_what_was_not_verified(seed_rag: RAG) -> None:
    from dataclasses import replace

    from rag.apps.web import render_markdown
    from rag.checks.citations import sentence_support
    from rag.present import present

    def format_answer(answer: Answer) -> str:
        return render_markdown(present(answer, seed_rag.index.article))

    answer = seed_rag.ask("How many H200 chips will Chinese companies order?")
    page = format_answer(answer)
    assert "ℹ️ sources differ: 2 million [1]" in page and "2026-01-10" in page
    flagged = replace(
        answer,
        answer="They order 3 million chips.",
        sentences=sentence_support("They order 3 million chips."),
        removed=[
            {"text": "Each buys 9 GB [1].", "reason": "9 GB not found in the source it cites"}
        ],
    )
    flagged.notice = "The LLM failed (timeout); this is the extractive answer instead."
    page = format_answer(flagged)
    assert page.startswith("⚠️ The LLM failed (timeout)")
    assert "**Not verified**" in page and "unsupported (no valid citation)" in page
    assert "removed (9 GB not found in the source it cites)" in page
