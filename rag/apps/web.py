"""The chat page: a thin Gradio adapter that streams `RAG.ask_stream` and renders the
presentation model (rag/present.py) as Markdown, listing the exact sources it cites."""

from __future__ import annotations

import argparse
import html
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rag.answerers.registry import get_answerer
from rag.answers import Answer
from rag.config import Settings
from rag.errors import RagError
from rag.present import AnswerView, SourceView, present
from rag.service import RAG

EXAMPLES = [
    "How many Nvidia chips are Alibaba and ByteDance ready to order?",
    "Wie stark stieg die Alibaba-Aktie in Hongkong?",
    "美国将从H200芯片出口中收取多少分成？",
    "¿Cuánto invertirá Alibaba en IA en tres años?",
]
WORKING = "_Searching the articles…_"


def _escape(text: str) -> str:
    return html.escape(text, quote=False)


CONTEXT_CHARS = 160  # of the surrounding paragraph, each side of the quoted sentence


def render_markdown(view: AnswerView) -> str:
    """A notice if a fallback answered, the answer, notes and anything unverified, then each
    cited source with the quoted sentence in bold inside its paragraph, and where it sits."""
    lines = [f"⚠️ {html.escape(view.notice)}", ""] if view.notice else []
    lines.append(_escape(view.answer))
    notes = [*view.conflicts, *view.notes]
    if view.confidence is not None:
        notes.append(f"confidence {view.confidence:.2f}")
    if notes:
        lines += [""] + [f"ℹ️ {_escape(n)}" for n in notes]
    if view.warnings:
        lines += ["", "**Not verified**"] + [f"- ⚠️ {_escape(w)}" for w in view.warnings]
    if view.sources:
        lines += ["", "**Sources**"]
        for s in view.sources:
            outlet = f"{html.escape(s.outlet)}, " if s.outlet else ""
            lines.append(
                f"[{s.n}] *{html.escape(s.title)}* — {outlet}`{s.doc_id}`, {s.lang}, "
                f"{s.date or 'undated'}, characters {s.start}–{s.end}  \n> {_in_context(s)}"
            )
    return "\n".join(lines)


def _in_context(source: SourceView) -> str:
    """The quote (page junk left out) in bold, with a little of its paragraph around it, so a
    reader sees what the citation rests on and where it sits."""
    start, end = source.highlight
    before = source.paragraph[max(0, start - CONTEXT_CHARS) : start]
    after = source.paragraph[end : end + CONTEXT_CHARS]
    lead = "…" if start > CONTEXT_CHARS else ""
    tail = "…" if end + CONTEXT_CHARS < len(source.paragraph) else ""
    flat = [" ".join(part.split()) for part in (before, source.quote, after)]
    return f"{lead}{_escape(flat[0])} **{_escape(flat[1])}** {_escape(flat[2])}{tail}".strip()


class ChatBackend:
    """Loads the index once and turns every failure into a message the page can show.

    The answerer comes from the registry with the configured fallbacks: when the LLM cannot be
    used (no key, server down, timeout) the fallback answerer answers and the answer says why;
    the page itself decides nothing.
    """

    def __init__(
        self,
        index_dir: Path | None = None,
        answerer: str | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.settings = settings or Settings.from_env()
        self.index_dir = index_dir
        self.answerer_name = answerer or self.settings.answerer
        self._rag: RAG | None = None

    def rag(self) -> RAG:
        if self._rag is None:
            answerer = get_answerer(self.answerer_name, self.settings.fallbacks, self.settings)
            self._rag = RAG.open_or_build(self.index_dir, answerer=answerer, settings=self.settings)
        return self._rag

    def respond(self, message: str, history: list[Any]) -> Iterator[str]:
        yield WORKING
        try:
            rag = self.rag()
            partial = ""
            for event in rag.ask_stream(message):
                if isinstance(event, Answer):
                    yield render_markdown(present(event, rag.index.article))
                    return
                partial += event
                yield _escape(partial) + " …"
        except RagError as err:
            yield f"⚠️ {err}"


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
    from rag.config import apply_offline_defaults

    apply_offline_defaults()
    try:
        settings = Settings.from_env()
    except RagError as err:
        raise SystemExit(f"ui: error: {err}") from None
    parser = argparse.ArgumentParser(description="Serve the chat page.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=settings.port)
    parser.add_argument("--index", type=Path, default=None)
    parser.add_argument("--llm", default=None, help="extractive or openai (default: RAG_LLM)")
    args = parser.parse_args(argv)
    backend = ChatBackend(args.index, args.llm, settings)
    try:
        backend.rag()  # build or load before the page opens, so the first question is fast
    except RagError as err:
        raise SystemExit(f"ui: error: {err}") from None
    build_app(backend).launch(server_name=args.host, server_port=args.port)
