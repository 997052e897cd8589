"""`rag ingest --engine ray`: the Ray Data pipeline gives the index a local ingest gives.

Ray binds some of its ports on every interface whatever it is told, so the CLI runs in a
network namespace that holds only loopback (`unshare -n`, as root): nothing it opens can be
reached from outside, and the tests skip, saying why, where that namespace cannot be made.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from rag.errors import MissingExtra
from rag.stores import faiss_bm25 as store
from tests.conftest import REPO, SEED_CORPUS


def _loopback_only() -> str | None:
    """Why a loopback-only namespace cannot be made here, or None when it can."""
    try:
        done = subprocess.run(
            ["unshare", "-n", "sh", "-c", "ip link set lo up"], capture_output=True, text=True
        )
    except FileNotFoundError as err:
        return f"no {err.filename} on this machine"
    if done.returncode != 0:
        return f"unshare -n is not permitted here: {done.stderr.strip()[-200:]}"
    return None


def _cli(*args: str, isolated: bool = False) -> subprocess.CompletedProcess[str]:
    """`rag ARGS`, in a loopback-only network namespace when `isolated`."""
    command = [sys.executable, "-m", "rag.apps.cli", *args]
    if isolated:
        quoted = " ".join(f"'{a}'" for a in command)
        command = ["unshare", "-n", "sh", "-c", f"ip link set lo up && exec {quoted}"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def ray_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed articles ingested on a local Ray cluster: 2 actors, batches of 2 articles, so
    the rows come back from several batches on both actors and must be put back in order."""
    pytest.importorskip("ray.data", reason="the ray extra is not installed")
    reason = _loopback_only()
    if reason:
        pytest.skip(reason)
    index = tmp_path_factory.mktemp("ray") / "index"
    done = _cli(
        "ingest", str(SEED_CORPUS), "--index", str(index), "--quiet",
        "--engine", "ray", "--workers", "2", "--batch-size", "2",
        isolated=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "5 added, 0 updated, 0 unchanged" in done.stdout
    return index


@pytest.mark.slow
def test_ray_ingest_equals_local_ingest(ray_index: Path, seed_index: Path) -> None:
    ray, local = store.open_index(ray_index), store.open_index(seed_index)
    assert list(ray.docs) == list(local.docs)
    for doc_id, entry in local.docs.items():
        assert ray.docs[doc_id].sha256 == entry.sha256
        assert ray.docs[doc_id].chunks == entry.chunks  # text, offsets, sentences, language
    assert [c.chunk_id for c in ray.chunks()] == [c.chunk_id for c in local.chunks()]
    assert ray.manifest["embedder"] == local.manifest["embedder"]
    assert ray.manifest["chunking"] == local.manifest["chunking"]
    assert ray.chunk_vectors.shape == local.chunk_vectors.shape
    assert ray.sentence_vectors.shape == local.sentence_vectors.shape
    np.testing.assert_allclose(ray.chunk_vectors, local.chunk_vectors, atol=1e-5)
    np.testing.assert_allclose(ray.sentence_vectors, local.sentence_vectors, atol=1e-5)


@pytest.mark.slow
def test_ray_built_index_answers_like_local(ray_index: Path, seed_index: Path) -> None:
    """The index is usable as it is: the same question finds the same passages."""
    question = "How many people were evacuated?"
    ray = _cli("search", question, "--index", str(ray_index), "--json")
    local = _cli("search", question, "--index", str(seed_index), "--json")
    assert ray.returncode == 0, ray.stderr
    found = [h["chunk_id"] for h in json.loads(ray.stdout)]
    assert len(found) == 5
    assert found == [h["chunk_id"] for h in json.loads(local.stdout)]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--engine", "nope"], "rag: error: unknown --engine 'nope'; known: local, ray"),
        (["--engine", "ray", "--workers", "0"], "rag: error: --workers must be at least 1, not 0"),
        (
            ["--engine", "ray", "--batch-size", "-3"],
            "rag: error: --batch-size must be at least 1, not -3",
        ),
        (["--workers", "2"], "rag: error: --workers applies to --engine ray only"),
    ],
)
def test_bad_engine_flags_are_one_line(flags: list[str], message: str, tmp_path: Path) -> None:
    index = tmp_path / "index"
    done = _cli("ingest", str(SEED_CORPUS), "--index", str(index), "--quiet", *flags)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [message]
    assert not index.exists()  # refused before anything was read or written


def test_missing_ray_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.ingest import ray_engine

    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` sees without the extra
    with pytest.raises(MissingExtra, match=r"rag-news\[ray\]"), ray_engine.cluster(None, 1):
        pass


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--engine", "nope"],
            "rag: error: bench speed --engine compares local with ray, not 'nope'",
        ),
        (
            ["--engine", "ray", "--workers", "0,2"],
            "rag: error: --workers takes actor counts of at least 1, like 1,2, not '0,2'",
        ),
        (
            ["--engine", "ray", "--batch-size", "0"],
            "rag: error: --batch-size must be at least 1, not 0",
        ),
    ],
)
def test_bad_bench_engine_flags_are_one_line(
    flags: list[str], message: str, tmp_path: Path
) -> None:
    done = _cli("bench", "speed", "--out", str(tmp_path), "--quiet", *flags)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [message]
    assert not any(tmp_path.iterdir())  # no report started


RAY_HEAD = """
trap '{ray} stop --force >/dev/null 2>&1' EXIT
export RAY_USAGE_STATS_ENABLED=0
{ray} start --head --node-ip-address 127.0.0.1 --port 6399 --num-cpus 2 \\
    --include-dashboard false --disable-usage-stats --temp-dir {temp} >{temp}/head.log 2>&1 \\
    || {{ tail -5 {temp}/head.log >&2; exit 9; }}
{ingest} --address 127.0.0.1:6399 >{temp}/refused.out 2>{temp}/refused.err
RAY_AUTH_MODE=token {ingest} --address 127.0.0.1:6399
"""


@pytest.mark.slow
def test_ray_ingest_joins_an_existing_cluster(seed_index: Path, tmp_path: Path) -> None:
    """`--address` joins a cluster started apart with `ray start --head` (in a loopback-only
    namespace). Ray 2.59+ protects such a cluster with a token: without RAY_AUTH_MODE=token the
    join is refused in one line saying so; with it the index equals a local ingest."""
    pytest.importorskip("ray.data", reason="the ray extra is not installed")
    reason = _loopback_only()
    if reason:
        pytest.skip(reason)
    temp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # Ray's socket paths must be short
    index = tmp_path / "index"
    ingest = [sys.executable, "-m", "rag.apps.cli", "ingest", str(SEED_CORPUS), "--index",
              str(index), "--quiet", "--engine", "ray", "--workers", "2"]  # fmt: skip
    script = RAY_HEAD.format(
        ray=Path(sys.executable).parent / "ray", temp=temp, ingest=" ".join(ingest)
    )
    try:
        done = subprocess.run(
            ["unshare", "-n", "sh", "-c", f"ip link set lo up && {script}"],
            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
            text=True, timeout=900,
        )  # fmt: skip
        refused = (temp / "refused.err").read_text()
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "5 added, 0 updated, 0 unchanged" in done.stdout
    errors = [line for line in refused.splitlines() if line.startswith("rag: error:")]
    assert len(errors) == 1 and "could not join the Ray cluster at 127.0.0.1:6399" in errors[0]
    assert "RAY_AUTH_MODE=token" in errors[0]
    joined, local = store.open_index(index), store.open_index(seed_index)
    assert [c.chunk_id for c in joined.chunks()] == [c.chunk_id for c in local.chunks()]
    np.testing.assert_allclose(joined.chunk_vectors, local.chunk_vectors, atol=1e-5)
    np.testing.assert_allclose(joined.sentence_vectors, local.sentence_vectors, atol=1e-5)
