"""The speed benchmark runs end to end and its scale run switches index type with recall."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.errors import RagError
from rag.evaluation import speed
from tests.conftest import REPO


def test_scale_sizes_are_checked() -> None:
    assert speed.parse_sizes("100000,1_000_000") == [100_000, 1_000_000]
    assert speed.parse_sizes("") == []
    for bad in ("lots", "500"):
        with pytest.raises(RagError, match="--scale"):
            speed.parse_sizes(bad)


def test_scale_run_switches_to_ivf_above_the_threshold_with_recall() -> None:
    rng = np.random.default_rng(0)
    seeds = rng.normal(size=(300, 32)).astype(np.float32)
    seeds /= np.linalg.norm(seeds, axis=1, keepdims=True)
    queries = speed.synthetic_vectors(seeds, 50, rng)
    small, large = speed.scale_run([2000, 20000], seeds, queries, False, ann_min_chunks=5000)
    assert small["product_index"] == "IndexFlatIP" and small["recall@10_vs_exact"] == 1.0
    assert large["product_index"] == "IndexIVFScalarQuantizer"
    assert large["recall@10_vs_exact"] >= 0.95
    assert large["product_mb"] < large["flat_mb"]  # fp16: half the bytes of float32
    assert large["vectors"].startswith("synthetic")


def test_rag_bench_speed_reports_throughput_latency_and_memory(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    run = subprocess.run(
        [sys.executable, "-m", "rag.apps.cli", "bench", "speed", "--corpus", "corpus", "--scale", "",
         "--queries", "10", "--out", str(out), "--quiet"],
        capture_output=True, text=True, cwd=REPO, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    (folder,) = out.glob("*-speed")
    data = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    ingest = data["ingest"]
    assert ingest["articles"] == 5 and ingest["chunks"] > 0 and ingest["bare_embedder_s"] > 0
    assert data["warm"]["search_ms"]["p95"] > 0 and data["cold_ask"]["median_s"] > 0
    assert data["peak_rss_mb"] > 0 and ingest["index_mb"] > 0
    assert "Pipeline overhead over the bare embedder" in (folder / "report.md").read_text()
