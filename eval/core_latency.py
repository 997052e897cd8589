"""Measure the Core issue's figures on the seed corpus: build time, warm search/ask p50/p95, cold ask.

Run: .venv/bin/python eval/core_latency.py  (prints figures; asserts nothing about time)
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rag import corpus, store
from rag.pipeline import RAG

QUESTIONS = [
    "How many Nvidia chips are Alibaba and ByteDance ready to order?",
    "Wie viele H200-Einheiten will Alibaba abnehmen?",
    "美国将从H200芯片出口中收取多少分成？",
    "H200的理论AI算力是H20的多少倍？",
    "What was Alibaba's share price in Hong Kong?",
    "How much will ByteDance spend on Nvidia chips in 2026?",
    "What market share does Alibaba Cloud have in China?",
    "How many H200 units have Chinese firms ordered for 2026?",
    "What is the memory bandwidth of the H200?",
    "How much did Alibaba raise through convertible bonds?",
    "¿Cuánto invertirá Alibaba en IA en tres años?",
    "Um wie viel Prozent stieg die Alibaba-Aktie in Hongkong?",
    "What is the market value of Nvidia?",
    "Wie viel Umsatz könnte der H200-Export Nvidia bringen?",
    "¿Cuántos chips H200 quiere comprar Alibaba?",
    "Why did Beijing pause H200 orders?",
    "Wer ist Vey-Sern Ling?",
    "What is the capital of France?",
    "Wie hoch ist Nvidias Dividende?",
    "特斯拉的股价是多少？",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "index"
        articles = corpus.load_articles([root / "corpus"])
        report = store.ingest(index_dir, articles, progress=False)
        print(
            f"build: {report.seconds:.2f}s total, {report.embed_seconds:.2f}s in the embedder "
            f"({100 * report.embed_seconds / report.seconds:.1f}%), {report.total_chunks} chunks, "
            f"{report.sentences_embedded} sentences"
        )
        rag = RAG(index_dir)
        rag.ask(QUESTIONS[0])  # warm-up: language identifier and caches
        for name, run in (
            ("search", lambda q: rag.search(q, k=5)),
            ("ask", lambda q: rag.ask(q)),
        ):
            times = []
            for _ in range(3):
                for q in QUESTIONS:
                    t0 = time.perf_counter()
                    run(q)
                    times.append((time.perf_counter() - t0) * 1000)
            print(
                f"warm {name}: n={len(times)} p50={statistics.median(times):.1f}ms "
                f"p95={percentile(times, 0.95):.1f}ms"
            )
        colds = []
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "rag.cli", "ask", "--index", str(index_dir), QUESTIONS[1]],
                check=True,
                capture_output=True,
            )
            colds.append(time.perf_counter() - t0)
        print(f"cold rag ask (new process): median {statistics.median(colds):.2f}s")


if __name__ == "__main__":
    main()
