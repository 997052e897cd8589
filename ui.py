"""Chat page: a thin Gradio adapter over `rag.RAG.ask`, listing the exact sources it cites."""

from __future__ import annotations

import argparse
import html
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rag.answerers.registry import get_answerer
from rag.answers import Answer
from rag.errors import RagError
from rag.service import RAG

EXAMPLES = [
    "How many Nvidia chips are Alibaba and ByteDance ready to order?",
    "Wie stark stieg die Alibaba-Aktie in Hongkong?",
    "美国将从H200芯片出口中收取多少分成？",
    "¿Cuánto invertirá Alibaba en IA en tres años?",
]
WORKING = "_Searching the articles…_"


def format_answer(answer: Answer, notice: str = "") -> str:
    """Answer text, warnings about anything unverified, then each cited source with the
    quoted sentence and where it sits."""
    lines = [f"⚠️ {html.escape(notice)}", ""] if notice else []
    lines.append(html.escape(answer.answer, quote=False))
    warnings = answer.warning_lines()
    notes = answer.conflict_lines() + answer.notes
    if notes:
        lines += [""] + [f"ℹ️ {html.escape(n, quote=False)}" for n in notes]
    if warnings:
        lines += ["", "**Not verified**"] + [f"- ⚠️ {html.escape(w, quote=False)}" for w in warnings]
    if answer.citations:
        lines += ["", "**Sources**"]
        for c in answer.citations:
            date = c.date or "undated"
            lines.append(
                f"[{c.n}] *{html.escape(c.title)}* — `{c.doc_id}`, {c.lang}, {date}, "
                f"characters {c.start}–{c.end}  \n> {html.escape(c.quote, quote=False)}"
            )
    return "\n".join(lines)


class ChatBackend:
    """Loads the index once and turns every failure into a message the page can show.

    When the configured LLM cannot be used (no key, server down, timeout) the page answers
    with the extractive answerer and says why, rather than failing.
    """

    def __init__(self, index_dir: Path | None = None, answerer: str | None = None) -> None:
        self.index_dir = index_dir
        self.answerer_name = answerer
        self._rag: RAG | None = None
        self.setup_notice = ""

    def rag(self) -> RAG:
        if self._rag is None:
            try:
                answerer = get_answerer(self.answerer_name)
            except RagError as err:
                self.setup_notice = f"The LLM is not available ({err}); extractive answers."
                answerer = get_answerer("extractive")
            self._rag = RAG.open_or_build(self.index_dir, answerer=answerer)
        return self._rag

    def respond(self, message: str, history: list[Any]) -> Iterator[str]:
        yield WORKING
        try:
            rag = self.rag()
            partial = ""
            for event in rag.ask_stream(message):
                if isinstance(event, Answer):
                    yield format_answer(event, self.setup_notice)
                    return
                partial += event
                yield html.escape(partial, quote=False) + " …"
        except RagError as err:
            if self._rag is None or self._rag.answerer.name == "extractive":
                yield f"⚠️ {err}"
                return
            notice = f"The LLM failed ({err}); this is the extractive answer instead."
            try:
                fallback = self._rag.ask(message, answerer=get_answerer("extractive"))
            except RagError as again:
                yield f"⚠️ {again}"
                return
            yield format_answer(fallback, notice)


def build_app(backend: ChatBackend) -> Any:
    import gradio as gr

    return gr.ChatInterface(
        backend.respond,
        title="News Q&A with citations",
        description=(
            "Ask in any language about the indexed news articles. Every sentence of an answer "
            "cites the exact passage it comes from; when the articles do not say, it says so."
        ),
        examples=EXAMPLES,
        run_examples_on_click=True,
        cache_examples=False,
        flagging_mode="never",
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the chat page.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "7860")))
    parser.add_argument("--index", type=Path, default=None)
    parser.add_argument("--llm", default=None, help="extractive or openai (default: RAG_LLM)")
    args = parser.parse_args(argv)
    backend = ChatBackend(args.index, args.llm)
    try:
        backend.rag()  # build or load before the page opens, so the first question is fast
    except RagError as err:
        raise SystemExit(f"ui: error: {err}") from None
    build_app(backend).launch(server_name=args.host, server_port=args.port)


if __name__ == "__main__":
    main()
