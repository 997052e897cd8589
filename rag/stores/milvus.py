"""A Milvus store: chunk vectors searched in Milvus (Lite embedded in a file, a Lite server, or
a cluster), everything else in a versioned folder beside it.

Milvus holds one row per chunk: its id, its vector and what filters test (document, language,
date). It answers dense search, filtered or not, with the filter pushed into Milvus as an
expression. The folder (`DIR`, the FAISS store's layout without chunks.faiss) holds the manifest
naming the store kind, the Milvus URI and collection, the articles and chunk records, the
sentence vectors and the bm25s lexical index, because:

- the answerers score every sentence of the candidate chunks per question (and the language
  shift all sentences): a local matrix product costs microseconds, a Milvus round trip per
  question costs milliseconds and ~10× the rows;
- the lexical index analyses our own tokens (CJK bigrams, snowball stems, numbers) and returns
  the same scores as the FAISS store, so answers do not depend on the backend (Milvus's BM25
  ranks by its own statistics);
- the chunk vectors are kept too (`chunks.npy`, memory-mapped): an incremental ingest reuses
  the unchanged documents' vectors without reading them back, and a collection that was lost
  can be refilled from them.

Writes keep the old version whole until the new one is live, as the FAISS store does. Each
write is a generation G+1: it inserts rows only for added and changed documents, tagged with
G+1 (keyed `doc#idx@gen`, so they never overwrite the rows the live version still searches),
then switches the folder to the new version, then deletes the replaced rows ("retired", and
listed in the new manifest). A version searches only rows of its generation or older whose
document is at that generation, so:

- an ingest killed before the switch leaves rows of a generation no version names: invisible,
  and deleted by the next write;
- one killed after the switch leaves retired rows: skipped (searches ask for that many more
  hits), and deleted by the next write;
- a reader that loaded the old version keeps searching it while the new one is written.

`check_vectors` refuses a collection that lacks rows the folder needs (a lost collection) with
the command that rebuilds it, and a rebuild drops the collection it replaces. Only this module
imports pymilvus.
"""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from rag import processes
from rag.config import ChunkingSettings, StoreSettings
from rag.errors import ConfigError, IndexUnavailable
from rag.ingest.chunking import DocEntry
from rag.stores import faiss_bm25
from rag.stores.base import ChunkHit, Filters, StoreQuery

KIND = "milvus"
log = logging.getLogger(__name__)
# Milvus caps one request's rows; inserts go in batches of this many (well under its 64 MB).
INSERT_BATCH = 2_000
DELETE_BATCH = 500
MAX_ID_CHARS = 1024


def is_spec(spec: str) -> bool:
    """Whether a `--store` value names a Milvus store: `milvus:PATH.db` (Milvus Lite in a file)
    or `http(s)://HOST:PORT` (a Lite server or a cluster)."""
    return spec.startswith(("milvus:", "http://", "https://"))


def uri_of(spec: str) -> str:
    """The URI pymilvus connects to: an absolute file path for Lite, else the URL."""
    if not spec.startswith("milvus:"):
        return spec
    path = spec.removeprefix("milvus:")
    if not path.endswith(".db"):
        raise ConfigError(
            f"a Milvus Lite store is a file ending in .db (--store milvus:PATH.db), not {spec!r}"
        )
    return str(Path(path).expanduser().resolve())


class MilvusStore(faiss_bm25.FaissBM25Store):
    """The FAISS store's folder and lexical index, with the chunk vectors searched in Milvus."""

    kind = KIND

    _connection: Any = None  # the MilvusClient, opened on first use
    _next: dict[str, Any]  # the generation a write is making, for its manifest

    @classmethod
    def create(
        cls,
        path: Path,
        uri: str,
        embedder_name: str | None,
        settings: ChunkingSettings | None,
        tuning: StoreSettings | None = None,
    ) -> MilvusStore:
        """An empty store at `path` whose first upsert creates a new collection at `uri`."""
        store = cls.new(path, embedder_name, settings, tuning)
        store.manifest["milvus"] = {
            "uri": uri,
            "collection": f"rag_{uuid.uuid4().hex[:16]}",
            "generation": 0,
            "rows": {},  # document id → the generation of its rows
            "retired": [],  # [document id, generation, chunks]: rows replaced by this version
        }
        return store

    @property
    def uri(self) -> str:
        return str(self.manifest["milvus"]["uri"])

    @property
    def collection(self) -> str:
        return str(self.manifest["milvus"]["collection"])

    @property
    def generation(self) -> int:
        return int(self.manifest["milvus"]["generation"])

    @property
    def _row_generations(self) -> dict[str, int]:
        """Document id → the generation of its rows (the manifest's own dict: read on every
        search, so not copied)."""
        rows: dict[str, int] = self.manifest["milvus"]["rows"]
        return rows

    @property
    def _retired_rows(self) -> int:
        """How many rows this version replaced that may still be in the collection."""
        return sum(int(chunks) for _, _, chunks in self.manifest["milvus"]["retired"])

    def info(self) -> dict[str, Any]:
        where = {"uri": self.uri, "collection": self.collection, "generation": self.generation}
        return {**super().info(), "milvus": where}

    # ------------------------------------------------------------ the connection

    def _client(self) -> Any:
        """One client per store, opened on first use."""
        if self._connection is None:
            from pymilvus import MilvusClient

            # pymilvus logs each failed call with its traceback; ours says it in one line
            logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
            with self._failures("connect"):
                self._connection = MilvusClient(uri=self.uri, token=self.tuning.milvus_token)
        return self._connection

    @contextmanager
    def _failures(self, action: str) -> Iterator[None]:
        """A Milvus failure (server gone, refused token, full disk) as one line naming it."""
        try:
            yield
        except Exception as err:  # pymilvus raises its own, grpc's and OS errors alike
            raise IndexUnavailable(
                f"Milvus at {self.uri} failed to {action} for the index at {self.path}: "
                f"{faiss_bm25._reason(err)}"
            ) from None

    def check_vectors(self) -> None:
        """The collection holds the folder's chunks: as many rows of this generation or older
        as the documents need, plus at most the retired rows not yet deleted (a lost or
        emptied collection holds fewer)."""
        client = self._client()
        n_chunks = len(self.chunks())
        rows = 0
        with self._failures("count the chunks"):
            if client.has_collection(self.collection):
                client.load_collection(self.collection)  # a reopened collection starts released
                found = client.query(
                    self.collection,
                    filter=f"gen <= {self.generation}",
                    output_fields=["count(*)"],
                )
                rows = int(found[0]["count(*)"])
        if not n_chunks <= rows <= n_chunks + self._retired_rows:
            raise faiss_bm25._damaged(
                self.path,
                f"Milvus collection {self.collection} at {self.uri} holds {rows} chunks, the "
                f"documents need {n_chunks}",
            )

    # ------------------------------------------------------------ search

    def dense_search(self, query: StoreQuery) -> list[ChunkHit]:
        """Filters and languages become a Milvus expression, evaluated beside the vectors."""
        assert query.vector is not None, "dense search needs a vector"
        found = self._search(query.vector, _expression(query.filters, query.langs), query.k)
        return [ChunkHit(chunk_id, score) for chunk_id, score in found]

    def _dense_rows(
        self, vector: np.ndarray, rows: np.ndarray | None, n: int
    ) -> list[tuple[int, float]]:
        chunks = self.chunks()
        expr = None if rows is None else _among("chunk_id", [chunks[r].chunk_id for r in rows])
        return [(self._chunk_row[c], s) for c, s in self._search(vector, expr, n)]

    def _search(self, vector: np.ndarray, expr: str | None, n: int) -> list[tuple[str, float]]:
        """The `n` best of this version's chunks: rows of a later (unfinished) generation are
        filtered out in Milvus, retired rows here (asking for that many more)."""
        if n <= 0 or not self.chunks():
            return []
        client = self._client()
        visible = f"gen <= {self.generation}"
        retired = self._retired_rows
        with self._failures("search"):
            hits = client.search(
                self.collection,
                data=[np.asarray(vector, dtype=np.float32).tolist()],
                # 16,384: Milvus's cap on one search's hits
                limit=min(n + retired, len(self.chunks()) + retired, 16_384),
                filter=f"{visible} and ({expr})" if expr else visible,
                output_fields=["chunk_id", "doc_id", "gen"],
                search_params={"metric_type": "IP"},
            )
        current = self._row_generations
        found = [
            (str(h["entity"]["chunk_id"]), float(h["distance"]))
            for h in hits[0]
            if current.get(h["entity"]["doc_id"]) == h["entity"]["gen"]
        ]
        return found[:n]

    # ------------------------------------------------------------ writing

    def _vector_index(self, docs: dict[str, DocEntry], chunk_vectors: np.ndarray, dim: int) -> Any:
        """Insert the rows of added and changed documents as the next generation, beside the
        live version's rows (deleted after the switch: `_after_switch`)."""
        client = self._client()
        previous, generation = self.docs, self.generation
        old_rows = self._row_generations
        fresh = {d for d, e in docs.items() if d not in previous or previous[d].sha256 != e.sha256}
        retired = [
            [d, old_rows[d], len(e.chunks)]
            for d, e in previous.items()
            if d not in docs or docs[d].sha256 != e.sha256
        ]
        with self._failures("write the chunks"):
            if not client.has_collection(self.collection):
                _create_collection(client, self.collection, dim, self.tuning.milvus_index)
            # what interrupted writes left: rows no version names, and the live one's retired
            client.delete(self.collection, filter=f"gen > {generation}")
            self._delete_retired(client, self.manifest["milvus"]["retired"])
            rows = _rows(docs, chunk_vectors, fresh, generation + 1)
            for batch in _batches(list(rows), INSERT_BATCH):
                client.insert(self.collection, batch)
        self._next = {
            "generation": generation + 1,
            "rows": {d: generation + 1 if d in fresh else old_rows[d] for d in docs},
            "retired": retired,
        }
        return None

    def _delete_retired(self, client: Any, retired: Sequence[Sequence[Any]]) -> None:
        """Delete the rows of [document id, generation, chunks] entries, a generation at once."""
        by_generation: dict[int, list[str]] = {}
        for doc_id, generation, _ in retired:
            by_generation.setdefault(int(generation), []).append(doc_id)
        for generation, doc_ids in sorted(by_generation.items()):
            for batch in _batches(doc_ids, DELETE_BATCH):
                client.delete(
                    self.collection, filter=f"gen == {generation} and {_among('doc_id', batch)}"
                )

    def _manifest_extra(self) -> dict[str, Any]:
        return {"milvus": {"uri": self.uri, "collection": self.collection, **self._next}}

    def _after_switch(self) -> None:
        """The new version is live: delete the rows it replaced. Should that fail, they stay
        invisible, and the next write deletes them."""
        super()._after_switch()
        try:
            with self._failures("delete replaced chunks"):
                self._delete_retired(self._client(), self.manifest["milvus"]["retired"])
        except IndexUnavailable as err:
            log.warning("%s; the next ingest deletes them", err)

    @classmethod
    def retire(cls, manifest: dict[str, Any], tuning: StoreSettings) -> None:
        """Drop the collection of a Milvus index that a rebuild replaced (where Milvus can be
        reached: a collection left behind is named in the log, to drop by hand)."""
        where = manifest.get("milvus") or {}
        try:
            from pymilvus import MilvusClient

            client = MilvusClient(uri=where["uri"], token=tuning.milvus_token)
            client.drop_collection(where["collection"])
            client.close()
        except Exception as err:  # pymilvus raises its own, grpc's and OS errors alike
            log.warning(
                "could not drop the replaced Milvus collection %s at %s: %s",
                where.get("collection"), where.get("uri"), faiss_bm25._reason(err),
            )  # fmt: skip


faiss_bm25.FOLDER_STORES[KIND] = MilvusStore


def _create_collection(client: Any, name: str, dim: int, index_type: str) -> None:
    """One row per chunk: id, vector, and the fields `Filters` test."""
    from pymilvus import DataType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=MAX_ID_CHARS + 24)
    schema.add_field("chunk_id", DataType.VARCHAR, max_length=MAX_ID_CHARS)
    schema.add_field("gen", DataType.INT64)  # the write that inserted the row
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=MAX_ID_CHARS)
    schema.add_field("lang", DataType.VARCHAR, max_length=16)
    schema.add_field("date", DataType.VARCHAR, max_length=64)  # "" when unknown
    index = client.prepare_index_params()
    index.add_index("vector", index_type=index_type, metric_type="IP")
    # Strong: a search right after an ingest sees what it wrote
    client.create_collection(name, schema=schema, index_params=index, consistency_level="Strong")


def _rows(
    docs: dict[str, DocEntry], chunk_vectors: np.ndarray, only: set[str], generation: int
) -> Iterator[dict[str, Any]]:
    """The Milvus rows of the documents in `only`, as `generation`; vectors are by row in
    document order."""
    row = 0
    for doc_id, entry in docs.items():
        for idx, chunk in enumerate(entry.chunks):
            if doc_id in only:
                yield {
                    "key": f"{doc_id}#{idx}@{generation}",
                    "chunk_id": f"{doc_id}#{idx}",
                    "gen": generation,
                    "vector": np.asarray(chunk_vectors[row], dtype=np.float32).tolist(),
                    "doc_id": doc_id,
                    "lang": chunk["lang"],
                    "date": entry.article.date or "",
                }
            row += 1


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _among(field: str, values: Sequence[str]) -> str:
    """`field in [...]`, each value quoted as a JSON string (Milvus reads the same escapes)."""
    return f"{field} in {json.dumps(list(values), ensure_ascii=False)}"


def _expression(filters: Filters | None, langs: frozenset[str] | None) -> str | None:
    """`Filters.admits` and a language restriction as one Milvus boolean expression."""
    terms = []
    if filters is not None:
        if filters.lang:
            terms.append(f"lang == {json.dumps(filters.lang)}")
        if filters.doc_ids:
            terms.append(_among("doc_id", sorted(filters.doc_ids)))
        if filters.date_from or filters.date_to:
            terms.append('date != ""')  # an undated article fails any date filter
        if filters.date_from:
            terms.append(f"date >= {json.dumps(filters.date_from)}")
        if filters.date_to:
            terms.append(f"date <= {json.dumps(filters.date_to)}")
    if langs is not None:
        terms.append(_among("lang", sorted(langs)))
    return " and ".join(terms) or None


# ---------------------------------------------------------------- for tests and benchmarks


@contextmanager
def lite_server(
    data_dir: Path, port: int, ready_s: float = 120.0
) -> Iterator[subprocess.Popen[bytes]]:
    """A `milvus-lite server` process on 127.0.0.1:`port` (never its default 0.0.0.0), yielded
    once it accepts connections and stopped afterwards, however the block ends."""
    command = [str(Path(sys.executable).parent / "milvus-lite"), "server", "--data-dir",
               str(data_dir), "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_until_accepting(server, port, ready_s)
        yield server
    finally:
        processes.stop(server, grace_s=30)


def _wait_until_accepting(server: subprocess.Popen[bytes], port: int, ready_s: float) -> None:
    deadline = time.monotonic() + ready_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise IndexUnavailable(f"milvus-lite server exited with status {server.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise IndexUnavailable(f"milvus-lite server did not accept on port {port} in {ready_s:.0f} s")


@contextmanager
def scratch_collection(
    uri: str, vectors: np.ndarray, token: str = "", index_type: str = "FLAT"
) -> Iterator[Callable[[np.ndarray, int], list[int]]]:
    """A throwaway collection holding `vectors` (row numbers as ids), as the store builds
    one, for `rag bench speed`: yields a search returning the rows of the k best; dropped
    afterwards."""
    from pymilvus import MilvusClient

    client = MilvusClient(uri=uri, token=token)
    name = f"bench_{uuid.uuid4().hex[:12]}"
    _create_collection(client, name, vectors.shape[1], index_type)
    try:
        for start in range(0, len(vectors), INSERT_BATCH):
            block = vectors[start : start + INSERT_BATCH]
            client.insert(name, [
                {"key": str(start + i), "chunk_id": str(start + i), "gen": 0,
                 "vector": v.tolist(), "doc_id": "", "lang": "", "date": ""}
                for i, v in enumerate(block)
            ])  # fmt: skip

        def search(vector: np.ndarray, k: int) -> list[int]:
            hits = client.search(name, data=[vector.tolist()], limit=k,
                                 output_fields=["chunk_id"], search_params={"metric_type": "IP"})  # fmt: skip
            return [int(h["entity"]["chunk_id"]) for h in hits[0]]

        yield search
    finally:
        client.drop_collection(name)
        client.close()
