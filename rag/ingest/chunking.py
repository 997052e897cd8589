"""Chunk and embed: a pure function from a batch of articles to records plus vectors.

No files, no index, no globals: the same articles, embedder and settings always give the same
records and vectors, so a store can call it in-process today and a cluster can map it over
shards of a corpus tomorrow. Writing the result is the store's business.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rag.config import ChunkingSettings
from rag.embedders import Embedder
from rag.ingest import text as textmod
from rag.ingest.corpus import Article

# Given the number of texts about to be embedded, the callback each embedded batch reports to.
Progress = Callable[[int], Callable[[int], None]]


@dataclass
class DocEntry:
    """An article as indexed: its record plus its chunks (each with its sentences)."""

    article: Article
    sha256: str
    chunks: list[dict[str, Any]]

    def to_json(self) -> str:
        return json.dumps(
            {"article": self.article.to_record(), "sha256": self.sha256, "chunks": self.chunks},
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, line: str) -> DocEntry:
        data = json.loads(line)
        return cls(Article.from_record(data["article"]), data["sha256"], data["chunks"])

    @property
    def n_sentences(self) -> int:
        return sum(len(c["sentences"]) for c in self.chunks)


@dataclass(frozen=True)
class EmbeddedBatch:
    """Chunked articles and their vectors, rows in document order then chunk order."""

    documents: list[DocEntry]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray
    tokens: int  # chunk tokens embedded
    embed_seconds: float  # time spent in the embedder alone (what ingest overhead is measured on)

    def per_document(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Each document's (chunk vectors, sentence vectors); a repeated id keeps its last."""
        out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        ci = si = 0
        for entry in self.documents:
            n_c, n_s = len(entry.chunks), entry.n_sentences
            out[entry.article.doc_id] = (
                self.chunk_vectors[ci : ci + n_c],
                self.sentence_vectors[si : si + n_s],
            )
            ci, si = ci + n_c, si + n_s
        return out


def chunk_article(article: Article, settings: ChunkingSettings) -> list[dict[str, Any]]:
    """Split an article into chunk records, each holding its sentences as [start, end, text]."""
    from rag import lang as langmod

    clean = textmod.CleanText.build(article.text, article.junk)
    sentences = textmod.split_sentences(clean, article.lang)
    chunks = []
    for chunk in textmod.chunk_sentences(sentences, clean, settings):
        chunk_lang = langmod.detect(chunk.text, default=article.lang)
        chunks.append(
            {
                "start": chunk.start,
                "end": chunk.end,
                "text": chunk.text,
                "lang": chunk_lang if len(chunk.text) >= 40 else article.lang,
                "n_tokens": chunk.n_tokens,
                "sentences": [[s.start, s.end, s.text] for s in chunk.sentences],
            }
        )
    return chunks


def chunk_passage(title: str, chunk_text: str) -> str:
    """What the embedder sees for a chunk: the headline gives context to pronouns and topics."""
    return f"{title}\n{chunk_text}" if title else chunk_text


def chunk_and_embed(
    articles: Sequence[Article],
    embedder: Embedder,
    settings: ChunkingSettings,
    progress: Progress | None = None,
) -> EmbeddedBatch:
    """Chunk every article, then embed all chunks (with their headline) and all sentences."""
    documents = [DocEntry(a, a.content_hash(), chunk_article(a, settings)) for a in articles]
    chunk_texts = [chunk_passage(d.article.title, c["text"]) for d in documents for c in d.chunks]
    sentence_texts = [s[2] for d in documents for c in d.chunks for s in c["sentences"]]
    report = progress(len(chunk_texts) + len(sentence_texts)) if progress else None
    started = time.perf_counter()
    chunk_vectors = embedder.embed_passages(chunk_texts, progress=report)
    sentence_vectors = embedder.embed_passages(sentence_texts, progress=report)
    seconds = time.perf_counter() - started
    tokens = sum(c["n_tokens"] for d in documents for c in d.chunks)
    return EmbeddedBatch(documents, chunk_vectors, sentence_vectors, tokens, seconds)


# What a store's upsert calls to turn the articles it has decided to (re)index into records plus
# vectors: `chunk_and_embed` in this process, or the same function mapped over a Ray cluster
# (rag/ingest/ray_engine.py), so the store never embeds what it is handed.
Embed = Callable[[Sequence[Article], Embedder, ChunkingSettings, Progress | None], EmbeddedBatch]
