"""Ingest on Ray Data: `chunk_and_embed` mapped over an actor pool, one embedder per actor.

The store still decides what to embed (only new or changed articles) and still writes the
result; this module only replaces the in-process call with a Ray pipeline, so any store can be
filled from a cluster. Each actor loads the embedder once and is then handed batches of
articles; rows come back tagged with their position, so the records and vectors are in the same
order a local ingest gives.

`ray` is optional (the `ray` extra) and imported only here, only when this engine is asked for.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from rag.config import ChunkingSettings, IngestSettings
from rag.embedders import Embedder
from rag.errors import ConfigError, InputError, MissingExtra, RagError
from rag.ingest.chunking import DocEntry, EmbeddedBatch, Progress, chunk_and_embed
from rag.ingest.corpus import Article

ENGINES = ("local", "ray")


def check_options(engine: str, workers: int, batch_size: int) -> None:
    """One line for each way the flags can be wrong, before anything starts."""
    if engine not in ENGINES:
        raise InputError(f"unknown --engine {engine!r}; known: {', '.join(ENGINES)}")
    if workers < 1:
        raise InputError(f"--workers must be at least 1, not {workers}")
    if batch_size < 1:
        raise InputError(f"--batch-size must be at least 1, not {batch_size}")


def _ray() -> Any:
    try:
        import ray
        import ray.data  # ray without its data extra has no ray.data
    except ImportError:
        raise MissingExtra("ray[data]", "ray") from None
    return ray


# Ray turns token authentication on for clusters started with `ray start` (2.59 and later):
# a driver joins one only with the token, and only when told to send it.
JOIN_HINT = (
    "check that it runs and is reachable, and, if it uses token authentication, set "
    "RAY_AUTH_MODE=token with the token in RAY_AUTH_TOKEN or ~/.ray/auth_token"
)


@contextmanager
def cluster(address: str | None, cpus: int, progress: bool = False) -> Iterator[None]:
    """Join the Ray cluster at `address`, or start a local one with `cpus` CPUs (no dashboard,
    bound to 127.0.0.1 where Ray allows it); shut down (or leave) when done."""
    ray = _ray()
    quiet = {"log_to_driver": False, "logging_level": logging.WARNING}
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(num_cpus=cpus, include_dashboard=False, _node_ip_address="127.0.0.1", **quiet)
    except (ConnectionError, RuntimeError, ValueError) as err:
        if address:
            raise ConfigError(
                f"could not join the Ray cluster at {address}: {_gist(err)}; {JOIN_HINT}"
            ) from None
        raise ConfigError(f"could not start a local Ray cluster: {_gist(err)}") from None
    ray.data.DataContext.get_current().enable_progress_bars = progress
    if not progress:  # Ray Data narrates each pipeline at INFO
        logging.getLogger("ray.data").setLevel(logging.WARNING)
    try:
        yield
    finally:
        ray.shutdown()


class ChunkEmbedWorker:
    """What each Ray actor runs: the embedder is loaded once, in the constructor, and every
    batch of articles it is handed goes through the same `chunk_and_embed` a local ingest runs."""

    def __init__(self, embedder_name: str, chunking: dict[str, Any]) -> None:
        from rag.embedders import get_embedder

        self.embedder = get_embedder(embedder_name)
        self.settings = ChunkingSettings(**chunking)

    def __call__(self, batch: Any) -> Any:
        """A pyarrow table of (pos, article JSON) in; one row per article out: its record,
        its chunk and sentence vectors as float32 bytes, and its share of the embed time."""
        import pyarrow as pa

        articles = [Article.from_record(json.loads(a)) for a in batch.column("article").to_pylist()]
        done = chunk_and_embed(articles, self.embedder, self.settings)
        vectors = done.per_document()
        share = done.embed_seconds / max(1, len(articles))
        docs = done.documents
        return pa.table(
            {
                "pos": batch.column("pos"),
                "doc": [d.to_json() for d in docs],
                "chunk_vectors": pa.array(
                    [vectors[d.article.doc_id][0].tobytes() for d in docs], pa.binary()
                ),
                "sentence_vectors": pa.array(
                    [vectors[d.article.doc_id][1].tobytes() for d in docs], pa.binary()
                ),
                "tokens": [sum(c["n_tokens"] for c in d.chunks) for d in docs],
                "embed_seconds": [share] * len(docs),
                "embedder_id": [self.embedder.id] * len(docs),
            }
        )


@dataclass(frozen=True)
class RayEmbed:
    """An `Embed` for `ArrayStore.upsert`: the same records and vectors as `chunk_and_embed`,
    computed by `workers` Ray actors (call it inside `cluster(...)`)."""

    embedder_name: str
    settings: IngestSettings

    def __call__(
        self,
        articles: Sequence[Article],
        embedder: Embedder,
        chunking: ChunkingSettings,
        progress: Progress | None = None,
    ) -> EmbeddedBatch:
        """`embedder` is the store's (loaded here to check the recorded id); the actors load
        their own by name and must report the same id."""
        ray = _ray()
        items = [{"pos": i, "article": json.dumps(a.to_record())} for i, a in enumerate(articles)]
        size = self.settings.batch_size
        blocks = max(1, -(-len(items) // size))
        dataset = ray.data.from_items(items, override_num_blocks=blocks)
        mapped = dataset.map_batches(
            ChunkEmbedWorker,
            fn_constructor_kwargs={
                "embedder_name": self.embedder_name,
                "chunking": {k: v for k, v in chunking.as_dict().items() if k != "splitter"},
            },
            batch_size=size,
            batch_format="pyarrow",
            # no more actors than batches: an actor with nothing to do still loads a model
            compute=ray.data.ActorPoolStrategy(size=min(self.settings.workers, blocks)),
            num_cpus=1,
        )
        try:
            rows = sorted(mapped.take_all(), key=lambda r: r["pos"])
        except ray.exceptions.RayError as err:
            raise RagError(f"the Ray ingest failed: {_gist(err)}") from None
        return _assemble(rows, embedder)


def _assemble(rows: list[dict[str, Any]], embedder: Embedder) -> EmbeddedBatch:
    """The actors' rows, in article order, as one batch; an actor with another embedder is an
    error (a cluster whose workers installed another model must not mix it into the index)."""
    for row in rows:
        if row["embedder_id"] != embedder.id:
            raise ConfigError(
                f"a Ray worker embedded with {row['embedder_id']}, the index records "
                f"{embedder.id}: install the same embedder on every node"
            )
    documents = [DocEntry.from_json(r["doc"]) for r in rows]
    return EmbeddedBatch(
        documents=documents,
        chunk_vectors=_vectors([r["chunk_vectors"] for r in rows], embedder.dim),
        sentence_vectors=_vectors([r["sentence_vectors"] for r in rows], embedder.dim),
        tokens=sum(int(r["tokens"]) for r in rows),
        embed_seconds=sum(float(r["embed_seconds"]) for r in rows),
    )


def _vectors(parts: list[bytes], dim: int) -> np.ndarray:
    flat = np.frombuffer(b"".join(parts), dtype=np.float32)
    return flat.reshape(-1, dim).copy()


def _gist(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[-1] if lines else type(err).__name__
