"""The store protocol: what retrieval and the answerers ask of an index, by string id.

Retrieval and the answerers never see a backend's rows, matrices or libraries. They send one
query object and get hits naming chunks by id (`001_8e054a9a993a0fea#3`) and sentences by id
(`001_8e054a9a993a0fea#3.0`), so a FAISS + bm25s folder and an in-memory store are
interchangeable, and another backend needs only these operations.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from rag.embedders import Embedder
from rag.ingest.chunking import Embed
from rag.ingest.corpus import Article

# Fewer sentences than this in a language tell too little about it: its similarity statistics
# (the language shift) and its vocabulary (the extractive answerer's unknown terms) are not used.
MIN_SENTENCES_PER_LANG = 20


@dataclass(frozen=True)
class Filters:
    """Optional restrictions; a date filter keeps only articles whose date is known and in range."""

    lang: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    doc_ids: frozenset[str] = field(default_factory=frozenset)
    exclude_doc_ids: frozenset[str] = field(default_factory=frozenset)

    def active(self) -> bool:
        return bool(
            self.lang or self.date_from or self.date_to or self.doc_ids or self.exclude_doc_ids
        )

    def admits(self, chunk: Chunk, date: str | None) -> bool:
        """Whether `chunk` (of an article dated `date`) passes."""
        if self.lang and chunk.lang != self.lang:
            return False
        if self.doc_ids and chunk.doc_id not in self.doc_ids:
            return False
        if chunk.doc_id in self.exclude_doc_ids:
            return False
        if self.date_from or self.date_to:
            if date is None:
                return False
            if self.date_from and date < self.date_from:
                return False
            if self.date_to and date > self.date_to:
                return False
        return True


@dataclass(frozen=True)
class Chunk:
    """A passage of an article: what is retrieved, shown to an LLM and cited."""

    chunk_id: str
    doc_id: str
    start: int
    end: int
    text: str
    lang: str
    n_tokens: int
    sentence_ids: tuple[str, ...]


@dataclass(frozen=True)
class Sentence:
    """A sentence of a chunk: what the extractive answerers quote; offsets are in the article."""

    sentence_id: str
    chunk_id: str
    doc_id: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class ChunkHit:
    chunk_id: str
    score: float


@dataclass(frozen=True, eq=False)
class StoreQuery:
    """One search: a vector (dense and sentence search) or lexical terms, the number of hits,
    and which chunks may match. `terms` are analysed as `text.lexical_tokens` analyses the
    chunks, so every backend matches the same tokens."""

    vector: np.ndarray | None = None
    terms: tuple[str, ...] = ()
    k: int = 10
    filters: Filters | None = None
    langs: frozenset[str] | None = None  # only chunks in these languages (None: any)


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    chunks_embedded: int = 0
    sentences_embedded: int = 0
    tokens_embedded: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    total_documents: int = 0
    total_chunks: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Store(Protocol):
    """Articles, their chunks and sentences, searchable by vector and by term."""

    kind: str  # the registry name, recorded in the manifest

    @property
    def location(self) -> str:
        """Where the store lives, for messages: a folder, or `memory`."""

    @property
    def embedder_name(self) -> str: ...

    @property
    def embedder_id(self) -> str: ...

    @property
    def langs(self) -> tuple[str, ...]:
        """The chunk languages, sorted."""

    @property
    def untrusted_doc_ids(self) -> frozenset[str]:
        """Articles carrying planted instructions (rag.ingest.planted)."""

    @property
    def n_sentences(self) -> int: ...

    def check_embedder(self, embedder: Embedder) -> None:
        """Refuse an embedder other than the one the vectors were made with."""

    def info(self) -> dict[str, Any]:
        """How the store was built and what it holds (`rag info`)."""

    # ------------------------------------------------------------ records

    def doc_ids(self) -> Collection[str]: ...

    def article(self, doc_id: str) -> Article: ...

    def chunks(self) -> Sequence[Chunk]:
        """Every chunk, in document order."""

    def chunk(self, chunk_id: str) -> Chunk: ...

    def sentences_of(self, chunk_id: str) -> tuple[Sentence, ...]: ...

    # ------------------------------------------------------------ search

    def dense_search(self, query: StoreQuery) -> list[ChunkHit]:
        """The k chunks whose vectors have the highest inner product with `query.vector`."""

    def lexical_search(self, query: StoreQuery) -> list[ChunkHit]:
        """The k chunks scoring highest (BM25) on `query.terms`; chunks scoring 0 are left out."""

    def sentence_search(
        self, query: StoreQuery, candidates: Collection[str] | None = None
    ) -> list[ChunkHit]:
        """Chunks ranked by their best sentence's cosine, lifted by `language_shift`. A store
        with more sentences than it scans per query may score only those of `candidates`."""

    def sentence_similarities(self, sentence_ids: Sequence[str], vector: np.ndarray) -> np.ndarray:
        """Cosine of `vector` with each sentence, in the order given."""

    def language_shift(self, vector: np.ndarray) -> Mapping[str, float]:
        """Per language, what lifts its sentences' mean cosine with `vector` to the highest
        language's: a small multilingual embedder favours the question's own language."""

    def sentence_cosine(self, a: str, b: str) -> float:
        """Cosine of two sentences: near 1 for near-duplicates."""

    def sentence_vectors_of(self, sentence_ids: Sequence[str]) -> np.ndarray:
        """The sentences' unit vectors, in the order given: the answer model's relevance
        network reads them beside the question's, not only their cosine."""

    # ------------------------------------------------------------ vocabulary

    def has_term(self, term: str) -> bool:
        """Some chunk uses the lexical token `term`."""

    def holds_terms(self, terms: Sequence[str], scope: Filters | None = None) -> bool:
        """Some chunk in `scope` (all when None) holds every one of `terms`."""

    # ------------------------------------------------------------ writing

    def upsert(
        self, articles: Sequence[Article], progress: bool = False, embed: Embed = ...
    ) -> IngestReport:
        """Add or update articles; unchanged ones (same content hash) cost nothing. `embed`
        (default `chunk_and_embed`) turns the others into records and vectors: a caller that
        computes them elsewhere (a Ray cluster) passes its own, and the store does not embed."""

    def delete(self, doc_ids: Iterable[str]) -> IngestReport:
        """Remove articles by id; an unknown id is an error naming the known ones."""
