"""The RAG facade every front end and eval run goes through: open (or build) the index, embed
the question, search, answer, check the figures; `ask_stream` is the one generator they read."""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rag import lang as langmod
from rag.answerers.base import Answerer, StreamEvent, final_answer
from rag.answerers.registry import get_answerer
from rag.answerers.scorer import names_only_beyond
from rag.answers import Answer, Evidence
from rag.checks.citations import sentence_support
from rag.checks.verify import drop_unverified_figures
from rag.config import InputLimits, Settings
from rag.embedders import Embedder, get_embedder
from rag.errors import IndexUnavailable, InputError
from rag.ingest.corpus import load_batch
from rag.retrieval import pivot
from rag.retrieval.hybrid import Hit, scope_of, search
from rag.stores.base import Filters, Store
from rag.stores.registry import get_store, open_store, store_exists


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + (time.perf_counter() - started) * 1000


_EXAMPLE = "e.g. rag ask 'Who may buy the H200?'"


def check_question(question: str, limits: InputLimits | None = None) -> str:
    """The question with its whitespace collapsed and invisible characters dropped; an
    InputError saying what to do when it is empty, too long, or has no words at all (only
    emoji, punctuation or control characters), since any answer to it would be noise."""
    limits = limits or InputLimits()
    if len(question) > limits.max_question_chars * 4:  # not worth cleaning what will be refused
        raise InputError(_too_long(len(question), limits))
    has_chars = bool(question.strip())
    words = ("".join(ch for ch in w if unicodedata.category(ch) not in ("Cc", "Cf"))
             for w in question.split())  # fmt: skip
    question = " ".join(w for w in words if w)
    if not question:
        what = "holds only control characters" if has_chars else "is empty"
        raise InputError(f"the question {what}: ask something, {_EXAMPLE}")
    if len(question) > limits.max_question_chars:
        raise InputError(_too_long(len(question), limits))
    if not any(ch.isalnum() for ch in question):
        raise InputError(
            f"the question has no words, only symbols, emoji or punctuation: ask in words, {_EXAMPLE}"
        )
    return question


def _too_long(chars: int, limits: InputLimits) -> str:
    return (
        f"the question is {chars} characters long; keep it under {limits.max_question_chars} "
        "(ask about one thing at a time)"
    )


def check_script(question: str, article_langs: tuple[str, ...]) -> None:
    """Refuse a question written in a script no article or supported question language uses,
    naming the languages to ask in: better than an answer from noise, or an abstention
    claiming the articles are silent."""
    language = langmod.unreadable_script(question, article_langs)
    if language is not None:
        others = [lang for lang in langmod.question_languages(article_langs)
                  if lang not in article_langs]  # fmt: skip
        raise InputError(
            f"the articles are in {', '.join(article_langs)}; I cannot read questions in "
            f"{language}: ask in one of those languages (or {', '.join(others)})"
        )


@dataclass
class SearchResult:
    hits: list[Hit]
    timings_ms: dict[str, float]

    def to_dicts(self, index: Store) -> list[dict[str, Any]]:
        return [hit_dict(index, hit) for hit in self.hits]


def hit_dict(index: Store, hit: Hit) -> dict[str, Any]:
    article = index.article(hit.chunk.doc_id)
    return {
        "doc_id": hit.chunk.doc_id,
        "chunk_id": hit.chunk.chunk_id,
        "score": round(hit.score, 6),
        "text": hit.chunk.text,
        "lang": hit.chunk.lang,
        "title": article.title,
        "date": article.date,
        "start": hit.chunk.start,
        "end": hit.chunk.end,
    }


class RAG:
    """An opened index with its embedder and answerer, loaded once and reused across questions.

    `index` is a store already opened (any backend, e.g. an in-memory one in tests); without
    it the FAISS + bm25s index at `index_dir` is opened."""

    def __init__(
        self,
        index_dir: Path | None = None,
        embedder: str | Embedder | None = None,
        answerer: str | Answerer | None = None,
        settings: Settings | None = None,
        index: Store | None = None,
    ) -> None:
        """`settings` default to the environment's (RAG_INDEX, RAG_LLM, ...); `index` may be any
        store (tests pass an in-memory one)."""
        self.settings = settings or Settings.from_env()
        self.index: Store = index or open_store(
            self.settings.store_kind, index_dir or self.settings.index_dir, self.settings.store
        )
        self.embedder: Embedder = (
            embedder
            if isinstance(embedder, Embedder)
            else get_embedder(embedder or self.index.embedder_name)
        )
        self.index.check_embedder(self.embedder)
        self.answerer = (
            answerer
            if isinstance(answerer, Answerer)
            else get_answerer(answerer or self.settings.answerer, settings=self.settings)
        )

    @classmethod
    def open_or_build(
        cls,
        index_dir: Path | None = None,
        corpus_dir: Path | None = None,
        embedder: str | None = None,
        answerer: str | Answerer | None = None,
        on_build: Callable[[str], None] | None = None,
        settings: Settings | None = None,
    ) -> RAG:
        """First use builds the index from the corpus folder, so `rag ask` works out of the box."""
        settings = settings or Settings.from_env()
        index_dir = index_dir or settings.index_dir
        if not store_exists(settings.store_kind, index_dir):
            corpus_dir = corpus_dir or settings.corpus_dir
            if not corpus_dir.is_dir():
                raise IndexUnavailable(
                    f"no index at {index_dir} and no corpus folder at {corpus_dir}: "
                    f"run `rag ingest PATH --index {index_dir}` first"
                )
            if on_build is not None:
                on_build(f"no index at {index_dir} yet: building it from {corpus_dir}/ ...")
            batch = load_batch([corpus_dir], settings.limits)
            for reason in batch.skipped:
                if on_build is not None:
                    on_build(f"skipped {reason}")
            if not batch.articles:
                raise IndexUnavailable(
                    f"no index at {index_dir}, and nothing usable in {corpus_dir} to build one"
                )
            new = get_store(settings.store_kind, index_dir, embedder, tuning=settings.store)
            new.upsert(batch.articles, progress=True)
            pivot.prepare(new.langs)
        return cls(index_dir, embedder=embedder, answerer=answerer, settings=settings)

    def check(self, question: str) -> str:
        """The question as it will be asked, or an InputError saying why it cannot be."""
        question = check_question(question, self.settings.limits)
        check_script(question, self.index.langs)
        return question

    def search(self, query: str, k: int = 5, filters: Filters | None = None) -> SearchResult:
        query = self.check(query)
        if k < 1:
            raise InputError(f"-k must be at least 1, not {k}")
        timings: dict[str, float] = {}
        with _timed(timings, "embed"):
            vector = self.embedder.embed_query(query)
        with _timed(timings, "search"):
            hits = search(
                self.index, query, vector, k=k, filters=filters, tuning=self.settings.retrieval
            )
        timings["total"] = timings["embed"] + timings["search"]
        return SearchResult(hits, timings)

    def _evidence(
        self,
        question: str,
        question_lang: str,
        vector: np.ndarray,
        filters: Filters | None,
        sources: int | None,
        timings: dict[str, float],
    ) -> Evidence:
        with _timed(timings, "search"):
            tuning = self.settings.retrieval
            hits = search(
                self.index, question, vector, sources or tuning.answer_context_chunks, filters,
                question_lang, tuning.per_language_chunks, tuning,
            )  # fmt: skip
        return Evidence(question, question_lang, vector, hits, self.index, scope_of(filters))

    def _answer_events(
        self, answerer: Answerer, evidence: Evidence, timings: dict[str, float]
    ) -> Iterator[StreamEvent]:
        """The answerer's stream up to and including its Answer, timed."""
        started = time.perf_counter()
        for event in answerer.stream(evidence):
            if isinstance(event, Answer):
                elapsed = (time.perf_counter() - started) * 1000
                timings["answer"] = timings.get("answer", 0.0) + elapsed
                yield event
                return
            timings.setdefault("first_token", (time.perf_counter() - started) * 1000)
            yield event

    def ask(
        self,
        question: str,
        filters: Filters | None = None,
        answerer: Answerer | None = None,
        sources: int | None = None,
    ) -> Answer:
        return final_answer(self.ask_stream(question, filters, answerer, sources))

    def ask_stream(
        self,
        question: str,
        filters: Filters | None = None,
        answerer: Answerer | None = None,
        sources: int | None = None,
    ) -> Iterator[StreamEvent]:
        """The one generator every front end reads: answer text as it is produced, then the
        finished Answer with citations resolved, figures checked and stage timings.
        `answerer` overrides the configured one for this question (an eval run measuring
        several answerers on one index, a page's answerer menu); `sources`, how many chunks
        it is given."""
        answerer = answerer or self.answerer
        question = self.check(question)
        timings: dict[str, float] = {}
        with _timed(timings, "embed"):
            vector = self.embedder.embed_query(question)
            question_lang = langmod.detect_question(question)
        # Articles marked untrusted at ingest are read only when the question names something
        # no trusted article mentions: a planted claim changes no answer a trusted article
        # gives or declines to give. The trusted pass is streamed once it is known to stand.
        untrusted = self.index.untrusted_doc_ids
        result: Answer | None = None
        if untrusted:
            trusted = replace(filters or Filters(), exclude_doc_ids=untrusted)
            evidence = self._evidence(question, question_lang, vector, trusted, sources, timings)
            *streamed, last = self._answer_events(answerer, evidence, timings)
            assert isinstance(last, Answer), f"answerer {answerer.name} ended without an answer"
            if not last.abstained or not names_only_beyond(
                question, question_lang, self.index, trusted, scope_of(filters)
            ):
                yield from streamed
                result = last
        if result is None:
            evidence = self._evidence(question, question_lang, vector, filters, sources, timings)
            for event in self._answer_events(answerer, evidence, timings):
                if isinstance(event, Answer):
                    result = event
                else:
                    yield event
        assert result is not None, f"answerer {answerer.name} ended without an answer"
        hits = evidence.hits
        with _timed(timings, "verify"):
            result = drop_unverified_figures(result)
            if not result.sentences and not result.abstained:
                result.sentences = sentence_support(result.answer)
        stages = ("embed", "search", "answer", "verify")
        result.timings_ms = {**timings, "total": sum(timings[s] for s in stages)}
        result.retrieved = hits
        yield result


def answer(
    question: str,
    index_dir: Path | None = None,
    answerer: str | None = None,
    filters: Filters | None = None,
) -> Answer:
    """One-shot convenience: open (or build) the index and answer one question."""
    return RAG.open_or_build(index_dir, answerer=answerer).ask(question, filters=filters)
