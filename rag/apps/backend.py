"""What every front end (the chat page, the Slack bot) asks of the product: one loaded index,
answerers from the registry with their fallbacks, the presentation model, and feedback.

Front ends hold one `ChatBackend` and render what it returns; none of them opens a store, picks
an answerer or composes an answer itself.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rag.answerers.base import Answerer
from rag.answerers.registry import get_answerer
from rag.answers import Answer
from rag.config import Settings
from rag.errors import InputError
from rag.feedback import FeedbackStore, feedback_path
from rag.library import (
    AddReport,
    LiveRAG,
    Progress,
    add_files,
    add_url,
    list_articles,
    remove_article,
    watched_sources,
)
from rag.present import AnswerView, present
from rag.service import RAG
from rag.stores.base import Filters

ANY = "any"
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Ask:
    """One question as a front end's controls shape it."""

    answerer: str = ""
    sources: int = 0  # 0: the configured number
    lang: str = ANY
    since: str = ""
    until: str = ""
    doc_ids: tuple[str, ...] = ()

    def filters(self) -> Filters | None:
        for name, value in (("from", self.since), ("until", self.until)):
            if value and not _DATE.fullmatch(value.strip()):
                raise InputError(f"the date {name} must look like 2026-01-31, not {value!r}")
        filters = Filters(
            lang=None if self.lang in ("", ANY) else self.lang,
            date_from=self.since.strip() or None,
            date_to=self.until.strip() or None,
            doc_ids=frozenset(self.doc_ids),
        )
        return filters if filters.active() else None


class ChatBackend:
    """Loads the index once, answers for every session, and turns failures into messages.

    Answerers come from the registry with the configured fallbacks, so when the LLM cannot be
    used the fallback answers and the answer says why; the page itself decides nothing.
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
        self._live: LiveRAG | None = None
        self._answerers: dict[str, Answerer] = {}
        self._lock = threading.Lock()
        # id(answer) -> the RAG that answered it, until the answer is garbage: its view must
        # quote the articles of that version, not of one swapped in meanwhile.
        self._answered: dict[int, RAG] = {}

    def rag(self) -> RAG:
        """The RAG on the index's current version: a page that adds or removes articles keeps
        answering from the old version until the new one is complete, then swaps."""
        return self._loaded().rag

    def _loaded(self) -> LiveRAG:
        with self._lock:
            if self._live is None:
                answerer = self._answerer(self.answerer_name)
                rag = RAG.open_or_build(self.index_dir, answerer=answerer, settings=self.settings)
                self._live = LiveRAG(rag)
            return self._live

    def current(self) -> RAG:
        """The RAG for a new question, on the newest complete version: an index another
        process wrote (`rag ingest`, a second front end) is picked up here, at the cost of
        reading the small `CURRENT` file. While one thread loads the new version the others
        keep answering from the old one."""
        live = self._loaded()
        live.reload_if_changed(wait=False)
        return live.rag

    @property
    def index_path(self) -> Path:
        return self.index_dir or self.settings.index_dir

    # ------------------------------------------------------------ articles and feedback

    def articles(self) -> list[dict[str, Any]]:
        return list_articles(self.current().index)

    def add_articles(
        self, paths: list[Path], names: dict[Path, str], progress: Progress | None = None
    ) -> AddReport:
        settings = replace(self.settings, index_dir=self.index_path)
        report = add_files(settings, paths, progress, names)
        self._reload()
        return report

    def add_url(self, url: str, progress: Progress | None = None) -> AddReport:
        settings = replace(self.settings, index_dir=self.index_path)
        report = add_url(settings, url, progress)
        self._reload()
        return report

    def watched(self) -> list[dict[str, Any]]:
        return watched_sources(replace(self.settings, index_dir=self.index_path))

    def remove_article(self, doc_id: str) -> None:
        remove_article(replace(self.settings, index_dir=self.index_path), doc_id)
        self._reload()

    def _reload(self) -> None:
        self._loaded().reload_if_changed()

    def feedback(self, record: dict[str, Any] | None, verdict: str, comment: str = "") -> int:
        """Store a reader's verdict on an answer beside the index."""
        if not record:
            raise InputError("ask a question first, then rate its answer")
        store = FeedbackStore(feedback_path(self.index_path))
        return store.record(record["question"], record["answer"], verdict, comment)

    def _answerer(self, name: str) -> Answerer:
        if name not in self._answerers:
            self._answerers[name] = get_answerer(name, self.settings.fallbacks, self.settings)
        return self._answerers[name]

    def ask_stream(self, question: str, ask: Ask | None = None) -> Iterator[str | Answer]:
        """Answer text as it comes, then the Answer; `ask` carries the page's controls."""
        ask = ask or Ask()
        rag = self.current()
        answerer = self._answerer(ask.answerer) if ask.answerer else None
        for event in rag.ask_stream(question, ask.filters(), answerer, ask.sources or None):
            if isinstance(event, Answer):
                self._answered[id(event)] = rag
                weakref.finalize(event, self._answered.pop, id(event), None)
            yield event

    def view(self, answer: Answer) -> AnswerView:
        """The presentation of `answer`, quoting the index version that answered it."""
        rag = self._answered.get(id(answer)) or self.rag()
        return present(answer, rag.index.article)

    def ask_json(self, question: str, answerer: str = "", sources: int = 0) -> dict[str, Any]:
        """The full answer, the same JSON as `rag ask --json`."""
        answer = self.current().ask(
            question,
            answerer=self._answerer(answerer) if answerer else None,
            sources=sources or None,
        )
        return answer.to_dict()
