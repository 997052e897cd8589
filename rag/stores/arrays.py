"""What the stores share: records and vectors held in numpy arrays, addressed by row inside the
store and by string id outside it.

A backend adds three things: a dense index over the chunk vectors, a lexical index over the
chunk tokens, and where (if anywhere) a version is written. Sentence search, the language
shift, filters, vocabulary checks and the incremental upsert are the same for every backend.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Mapping, Sequence
from contextlib import ExitStack
from typing import Any

import numpy as np

from rag.config import ChunkingSettings, StoreSettings
from rag.embedders import Embedder, name_for
from rag.errors import IndexMismatch, InputError
from rag.ingest.chunking import DocEntry, Embed, chunk_and_embed
from rag.ingest.corpus import Article
from rag.stores.base import (
    MIN_SENTENCES_PER_LANG,
    Chunk,
    ChunkHit,
    Filters,
    IngestReport,
    Sentence,
    StoreQuery,
)

Vectors = tuple[dict[str, np.ndarray], dict[str, np.ndarray]]


class ArrayStore(ABC):
    """A loaded store: articles, chunk and sentence records, their vectors, per-language ids."""

    kind: str

    def __init__(
        self,
        manifest: dict[str, Any],
        docs: dict[str, DocEntry],
        chunk_vectors: np.ndarray,
        sentence_vectors: np.ndarray,
        tuning: StoreSettings | None = None,
    ) -> None:
        self.manifest = manifest
        self.tuning = tuning or StoreSettings()
        self._hold(docs, chunk_vectors, sentence_vectors)

    def _hold(
        self, docs: dict[str, DocEntry], chunk_vectors: np.ndarray, sentence_vectors: np.ndarray
    ) -> None:
        """Take a new version's records and vectors and derive the per-row lookups."""
        self.docs = docs
        self.chunk_vectors = chunk_vectors
        self.sentence_vectors = sentence_vectors
        self._chunks, self._sentences, self._sentence_rows = _flatten(docs)
        self._chunk_row = {c.chunk_id: row for row, c in enumerate(self._chunks)}
        self._sentence_row = {s.sentence_id: row for row, s in enumerate(self._sentences)}
        self._sentence_by_chunk = [
            tuple(self._sentences[r] for r in rows) for rows in self._sentence_rows
        ]
        self._sentence_chunk_rows = np.array(
            [self._chunk_row[s.chunk_id] for s in self._sentences], dtype=np.int64
        )
        self._langs = tuple(sorted({c.lang for c in self._chunks})) or ("en",)
        self._chunk_lang_ids = np.array(
            [self._langs.index(c.lang) for c in self._chunks], dtype=np.int64
        )
        self._sentence_lang_ids = (
            self._chunk_lang_ids[self._sentence_chunk_rows]
            if len(self._chunk_lang_ids)
            else self._chunk_lang_ids
        )
        self._filtered: tuple[Filters | None, np.ndarray | None] = (None, None)
        self._untrusted = frozenset(d for d, entry in docs.items() if entry.article.untrusted)
        self._statistic_lang_ids = self._lang_ids_of_trusted(self._sentence_lang_ids)

    # ------------------------------------------------------------ what it is

    @property
    @abstractmethod
    def location(self) -> str: ...

    @property
    def embedder_name(self) -> str:
        return str(self.manifest["embedder"]["name"])

    @property
    def embedder_id(self) -> str:
        return str(self.manifest["embedder"]["id"])

    @property
    def langs(self) -> tuple[str, ...]:
        return self._langs

    @property
    def untrusted_doc_ids(self) -> frozenset[str]:
        return self._untrusted

    @property
    def n_sentences(self) -> int:
        return len(self._sentences)

    def check_embedder(self, embedder: Embedder) -> None:
        recorded = self.manifest["embedder"]
        if embedder.id != recorded["id"] or embedder.dim != recorded["dim"]:
            raise IndexMismatch(
                f"the index at {self.location} was built with embedder {recorded['name']!r} "
                f"({recorded['id']}, {recorded['dim']} dims), not {embedder.id!r} "
                f"({embedder.dim} dims): use --embedder {name_for(recorded['id'], recorded['name'])} or build a new index "
                f"with --index DIR"
            )

    def info(self) -> dict[str, Any]:
        docs = [
            {
                "doc_id": d.article.doc_id,
                "title": d.article.title,
                "lang": d.article.lang,
                "date": d.article.date,
                "chunks": len(d.chunks),
                "sentences": d.n_sentences,
                "sha256": d.sha256[:12],
                "untrusted": d.article.untrusted,
            }
            for d in self.docs.values()
        ]
        return {
            "path": self.location,
            "version": self.manifest["version"],
            "embedder": self.manifest["embedder"],
            "chunking": self.manifest["chunking"],
            "lexical": self.manifest["lexical"],
            "documents": len(self.docs),
            "chunks": len(self._chunks),
            "sentences": len(self._sentences),
            "updated_at": self.manifest["updated_at"],
            "articles": docs,
        }

    # ------------------------------------------------------------ records

    def doc_ids(self) -> Collection[str]:
        return self.docs.keys()

    def article(self, doc_id: str) -> Article:
        return self.docs[doc_id].article

    def chunks(self) -> Sequence[Chunk]:
        return self._chunks

    def chunk(self, chunk_id: str) -> Chunk:
        return self._chunks[self._chunk_row[chunk_id]]

    def sentences_of(self, chunk_id: str) -> tuple[Sentence, ...]:
        return self._sentence_by_chunk[self._chunk_row[chunk_id]]

    # ------------------------------------------------------------ search

    @abstractmethod
    def _dense_rows(
        self, vector: np.ndarray, rows: np.ndarray | None, n: int
    ) -> list[tuple[int, float]]:
        """(row, inner product) of the n best chunks among `rows` (all when None)."""

    @abstractmethod
    def _lexical_scores(self, terms: Sequence[str]) -> np.ndarray | None:
        """BM25 score of every chunk for `terms`; None when no term is in the vocabulary."""

    @abstractmethod
    def has_term(self, term: str) -> bool: ...

    @abstractmethod
    def _term_presence(self, term: str) -> np.ndarray:
        """For each chunk, whether it holds the known token `term`."""

    def dense_search(self, query: StoreQuery) -> list[ChunkHit]:
        assert query.vector is not None, "dense search needs a vector"
        found = self._dense_rows(query.vector, self._query_rows(query), query.k)
        return [ChunkHit(self._chunks[row].chunk_id, score) for row, score in found]

    def lexical_search(self, query: StoreQuery) -> list[ChunkHit]:
        scores = self._lexical_scores(query.terms)
        if scores is None:
            return []
        scores = np.where(self._query_mask(query), scores, 0.0)
        top = np.argsort(-scores, kind="stable")[: query.k]
        return [ChunkHit(self._chunks[i].chunk_id, float(scores[i])) for i in top if scores[i] > 0]

    def sentence_search(
        self, query: StoreQuery, candidates: Collection[str] | None = None
    ) -> list[ChunkHit]:
        assert query.vector is not None, "sentence search needs a vector"
        if not self._sentences:
            return []
        sentence_rows = None
        if candidates is not None and len(self._sentences) > self.tuning.sentence_scan_limit:
            chunk_rows = sorted(self._chunk_row[c] for c in candidates)
            sentence_rows = np.array(
                [r for c in chunk_rows for r in self._sentence_rows[c]], dtype=np.int64
            )
        sims = self._lifted_similarities(query.vector, sentence_rows)
        owners = self._sentence_chunk_rows
        owners = owners if sentence_rows is None else owners[sentence_rows]
        best = np.full(len(self._chunks), -np.inf, dtype=np.float32)
        np.maximum.at(best, owners, sims)
        rows = self._query_rows(query)
        if rows is not None:
            best = np.where(_row_mask(len(best), rows), best, -np.inf)
        top = np.argsort(-best, kind="stable")[: query.k]
        return [
            ChunkHit(self._chunks[i].chunk_id, float(best[i])) for i in top if np.isfinite(best[i])
        ]

    def sentence_similarities(self, sentence_ids: Sequence[str], vector: np.ndarray) -> np.ndarray:
        rows = [self._sentence_row[s] for s in sentence_ids]
        return np.asarray(self.sentence_vectors[rows] @ vector)

    def language_shift(self, vector: np.ndarray) -> Mapping[str, float]:
        shift = self._language_shift(vector)
        return {lang: float(shift[i]) for i, lang in enumerate(self._langs)}

    def sentence_vectors_of(self, sentence_ids: Sequence[str]) -> np.ndarray:
        return np.asarray(self.sentence_vectors[[self._sentence_row[s] for s in sentence_ids]])

    def sentence_cosine(self, a: str, b: str) -> float:
        vectors = self.sentence_vectors
        return float(vectors[self._sentence_row[a]] @ vectors[self._sentence_row[b]])

    def holds_terms(self, terms: Sequence[str], scope: Filters | None = None) -> bool:
        if not terms or any(not self.has_term(t) for t in terms):
            return False
        if scope is None and len(terms) == 1:
            return True
        holds = np.ones(len(self._chunks), dtype=bool)
        for term in dict.fromkeys(terms):
            holds &= self._term_presence(term)
        rows = self._filter_rows(scope)
        if rows is not None:
            holds &= _row_mask(len(self._chunks), rows)
        return bool(holds.any())

    # ------------------------------------------------------------ scopes

    def _filter_rows(self, filters: Filters | None) -> np.ndarray | None:
        """Rows the filters admit (None: no filter); the last answer is kept, since a question
        asks for the same filters several times."""
        if filters is None or not filters.active():
            return None
        cached_filters, cached_rows = self._filtered  # one read: pages serve threads at once
        if cached_filters == filters and cached_rows is not None:
            return cached_rows
        rows = np.array(
            [
                row
                for row, c in enumerate(self._chunks)
                if filters.admits(c, self.docs[c.doc_id].article.date)
            ],
            dtype=np.int64,
        )
        self._filtered = (filters, rows)
        return rows

    def _lang_mask(self, langs: frozenset[str]) -> np.ndarray:
        ids = [self._langs.index(lang) for lang in langs if lang in self._langs]
        return np.isin(self._chunk_lang_ids, ids)

    def _query_mask(self, query: StoreQuery) -> np.ndarray:
        mask = _row_mask(len(self._chunks), self._filter_rows(query.filters))
        return mask if query.langs is None else mask & self._lang_mask(query.langs)

    def _query_rows(self, query: StoreQuery) -> np.ndarray | None:
        rows = self._filter_rows(query.filters)
        if query.langs is None:
            return rows
        return np.flatnonzero(self._query_mask(query)).astype(np.int64)

    # ------------------------------------------------------------ the language shift

    def _lang_ids_of_trusted(self, lang_ids: np.ndarray) -> np.ndarray:
        """Sentence language ids with untrusted articles' sentences moved to a spare id past
        the last language, so index-wide statistics leave them out: an article carrying
        planted instructions must not move the scores of the trusted ones."""
        untrusted = np.array([s.doc_id in self._untrusted for s in self._sentences], dtype=bool)
        return np.where(untrusted, len(self._langs), lang_ids).astype(np.int64)

    def _language_stats(
        self, vector: np.ndarray, all_sims: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per language id: the mean and spread of the query's cosine with that language's
        sentences (`all_sims`: those cosines, when the caller has them for every sentence).
        Above the scan limit they are estimated on an even sample, so the cost stays flat."""
        n_langs = max(1, len(self._langs))
        lang_ids = self._statistic_lang_ids
        if len(lang_ids) == 0:
            return np.zeros(n_langs, np.float32), np.ones(n_langs, np.float32)
        stride = max(1, len(lang_ids) // self.tuning.sentence_scan_limit)
        lang_ids = lang_ids[::stride]
        sims = (self.sentence_vectors @ vector if all_sims is None else all_sims)[::stride]
        bins = n_langs + 1  # the last: untrusted sentences, counted nowhere
        counts = np.maximum(np.bincount(lang_ids, minlength=bins)[:n_langs], 1)
        means = np.bincount(lang_ids, weights=sims, minlength=bins)[:n_langs] / counts
        squares = np.bincount(lang_ids, weights=sims * sims, minlength=bins)[:n_langs] / counts
        spread = np.sqrt(np.maximum(squares - means * means, 1e-6))
        return means.astype(np.float32), spread.astype(np.float32)

    def _language_shift(self, vector: np.ndarray, all_sims: np.ndarray | None = None) -> np.ndarray:
        """Per language id, what to add to a sentence's cosine so every language has the same
        mean. A small multilingual embedder scores any sentence in the question's own language
        higher than a better answer in another: an English question ranks unrelated English
        sentences above the one Chinese sentence with the figure. Lifting each language's
        scores to the highest language mean (where it holds enough sentences to estimate one)
        removes that bias."""
        lang_ids = self._sentence_lang_ids
        if len(lang_ids) == 0 or lang_ids.max(initial=0) == 0:
            return np.zeros(max(1, len(self._langs)), dtype=np.float32)
        means, _ = self._language_stats(vector, all_sims)
        counts = np.bincount(self._statistic_lang_ids, minlength=len(means) + 1)[: len(means)]
        reliable = counts >= MIN_SENTENCES_PER_LANG
        top = float(means[reliable].max()) if reliable.any() else 0.0
        return np.where(reliable, top - means, 0.0).astype(np.float32)

    def _lifted_similarities(self, vector: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
        """Cosine of the query with the sentences `rows` (default all), each language lifted to
        the same mean."""
        vectors = self.sentence_vectors if rows is None else self.sentence_vectors[rows]
        lang_ids = self._sentence_lang_ids if rows is None else self._sentence_lang_ids[rows]
        sims = vectors @ vector
        if len(sims) == 0 or lang_ids.max(initial=0) == 0:
            return np.asarray(sims)
        shift = self._language_shift(vector, sims if rows is None else None)
        return (sims + shift[lang_ids]).astype(np.float32)

    # ------------------------------------------------------------ writing

    @abstractmethod
    def _embedder(self) -> Embedder:
        """The embedder new articles are embedded with, checked against the recorded one."""

    @abstractmethod
    def _commit(
        self,
        docs: dict[str, DocEntry],
        chunk_vectors: np.ndarray,
        sentence_vectors: np.ndarray,
        embedder_info: dict[str, Any],
    ) -> None:
        """Make `docs` with these vectors the store's content (and, if it persists, its new
        version)."""

    def _chunking(self) -> ChunkingSettings:
        recorded = {k: v for k, v in self.manifest["chunking"].items() if k != "splitter"}
        return ChunkingSettings(**recorded)

    def upsert(
        self, articles: Sequence[Article], progress: bool = False, embed: Embed = chunk_and_embed
    ) -> IngestReport:
        """Add or update articles; `embed` chunks and embeds only the new or changed ones. An
        unchanged article that brings new "also published at" places has only its record
        rewritten (the places are not part of its content hash)."""
        started = time.perf_counter()
        report = IngestReport()
        docs = dict(self.docs)
        fresh: list[Article] = []
        noted = False  # an unchanged article with new places where copies of it ran
        for article in articles:
            sha = article.content_hash()
            previous = docs.get(article.doc_id)
            if previous is not None and previous.sha256 == sha:
                report.unchanged.append(article.doc_id)
                if article.also_at != previous.article.also_at:
                    docs[article.doc_id] = DocEntry(article, sha, previous.chunks)
                    noted = True
                continue
            (report.updated if previous else report.added).append(article.doc_id)
            docs[article.doc_id] = DocEntry(article, sha, [])  # keeps its place; chunked below
            fresh.append(article)
        if fresh:
            embedder = self._embedder()
            with ExitStack() as bars:
                batch = embed(fresh, embedder, self._chunking(), _progress_bar(bars, progress))
            for entry in batch.documents:
                docs[entry.article.doc_id] = entry
            report.embed_seconds += batch.embed_seconds
            report.chunks_embedded += len(batch.chunk_vectors)
            report.sentences_embedded += len(batch.sentence_vectors)
            report.tokens_embedded += batch.tokens
            info = {"name": self.embedder_name, "id": embedder.id, "dim": embedder.dim}
            self._store(docs, batch.per_document(), info)
        elif noted:  # only the record changes: every vector is reused
            self._store(docs, {}, self.manifest["embedder"])
        report.total_documents = len(docs)
        report.total_chunks = sum(len(d.chunks) for d in docs.values())
        report.seconds = time.perf_counter() - started
        return report

    def delete(self, doc_ids: Iterable[str]) -> IngestReport:
        started = time.perf_counter()
        doc_ids = list(doc_ids)
        missing = [d for d in doc_ids if d not in self.docs]
        if missing:
            known = ", ".join(sorted(self.docs)) or "(none)"
            raise InputError(f"no document {missing[0]!r} in {self.location}; known ids: {known}")
        docs = {k: v for k, v in self.docs.items() if k not in doc_ids}
        self._store(docs, {}, self.manifest["embedder"])
        report = IngestReport(removed=doc_ids, total_documents=len(docs))
        report.total_chunks = sum(len(d.chunks) for d in docs.values())
        report.seconds = time.perf_counter() - started
        return report

    def _store(
        self,
        docs: dict[str, DocEntry],
        new_vectors: dict[str, tuple[np.ndarray, np.ndarray]],
        embedder_info: dict[str, Any],
    ) -> None:
        """Stack the new vectors and the kept ones in document order, then commit."""
        reused_chunks, reused_sentences = self._reusable_vectors(set(docs) - set(new_vectors))
        dim = int(embedder_info["dim"])
        chunk_parts, sentence_parts = [], []
        for doc_id in docs:
            fallback = (reused_chunks.get(doc_id), reused_sentences.get(doc_id))
            chunk_vecs, sentence_vecs = new_vectors.get(doc_id, fallback)
            chunk_parts.append(chunk_vecs)
            sentence_parts.append(sentence_vecs)
        self._commit(docs, _stack(chunk_parts, dim), _stack(sentence_parts, dim), embedder_info)

    def _reusable_vectors(self, keep: set[str]) -> Vectors:
        """Vectors of the documents that did not change, grouped by document in one pass."""
        chunk_rows: dict[str, list[int]] = {}
        sentence_rows: dict[str, list[int]] = {}
        for row, chunk in enumerate(self._chunks):
            if chunk.doc_id in keep:
                chunk_rows.setdefault(chunk.doc_id, []).append(row)
                sentence_rows.setdefault(chunk.doc_id, []).extend(self._sentence_rows[row])
        chunk_vecs = {d: self.chunk_vectors[rows] for d, rows in chunk_rows.items()}
        sentence_vecs = {d: self.sentence_vectors[sentence_rows[d]] for d in chunk_rows}
        return chunk_vecs, sentence_vecs


def _flatten(docs: dict[str, DocEntry]) -> tuple[list[Chunk], list[Sentence], list[range]]:
    """Chunk and sentence records in document order, and each chunk's sentence rows."""
    chunks: list[Chunk] = []
    sentences: list[Sentence] = []
    sentence_rows: list[range] = []
    for doc_id, entry in docs.items():
        for idx, chunk in enumerate(entry.chunks):
            chunk_id = f"{doc_id}#{idx}"
            first = len(sentences)
            for i, (s_start, s_end, s_text) in enumerate(chunk["sentences"]):
                sentences.append(
                    Sentence(f"{chunk_id}.{i}", chunk_id, doc_id, s_start, s_end, s_text)
                )
            chunks.append(
                Chunk(
                    chunk_id=chunk_id,
                    doc_id=doc_id,
                    start=chunk["start"],
                    end=chunk["end"],
                    text=chunk["text"],
                    lang=chunk["lang"],
                    n_tokens=chunk["n_tokens"],
                    sentence_ids=tuple(s.sentence_id for s in sentences[first:]),
                )
            )
            sentence_rows.append(range(first, len(sentences)))
    return chunks, sentences, sentence_rows


def _row_mask(n: int, rows: np.ndarray | None) -> np.ndarray:
    """True for the admitted rows (all of them when there is no filter)."""
    if rows is None:
        return np.ones(n, dtype=bool)
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    return mask


def _stack(parts: list[np.ndarray | None], dim: int) -> np.ndarray:
    arrays = [p for p in parts if p is not None and len(p)]
    if not arrays:
        return np.empty((0, dim), dtype=np.float32)
    return np.ascontiguousarray(np.vstack(arrays), dtype=np.float32)


def _progress_bar(bars: ExitStack, show: bool) -> Any:
    """A tqdm bar over the texts to embed, opened once their number is known (only for 32+)."""
    from tqdm import tqdm

    def opened(total: int) -> Any:
        bar = tqdm(total=total, desc="embedding", unit="text", disable=not show or total < 32)
        return bars.enter_context(bar).update

    return opened
