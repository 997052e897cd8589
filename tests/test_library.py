"""The article library behind the page's Articles tab: list, add uploads (a bad file refused
with its reason, the others added), remove, and readers moving to the new index version."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from rag.config import Settings
from rag.errors import InputError
from rag.library import (
    LiveRAG,
    add_files,
    list_articles,
    loaded_version,
    remove_article,
    reopen_if_changed,
)
from rag.service import RAG
from rag.stores.registry import live_version, open_store
from tests.conftest import DOC_EN_ORDERS

ZEPHYR = """---
title: Zephyr-9 unveiled
outlet: Chip Weekly
date: 2026-01-15
---
Zephyr Labs unveiled its Zephyr-9 accelerator on Thursday in Oslo.

The Zephyr-9 chip has 96 GB of memory. The company said it will ship in the spring.
"""
QUESTION = "How much memory does the Zephyr-9 chip have?"


def _uploads(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Files as a web framework keeps uploads: under temporary names."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    good = folder / "tmpa1b2c3d4.md"
    good.write_text(ZEPHYR, encoding="utf-8")
    binary = folder / "tmpe5f6g7h8.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    empty = folder / "tmpzz_99xy0.md"
    empty.write_text("   \n", encoding="utf-8")
    return good, binary, empty


def test_list_articles_of_the_seed_index(seed_rag: RAG) -> None:
    rows = list_articles(seed_rag.index)
    assert len(rows) == 5
    assert set(rows[0]) == {"doc_id", "title", "outlet", "date", "lang", "url", "chunks", "trust"}
    assert all(r["trust"] == "" for r in rows)  # no seed article carries planted text
    assert [r["doc_id"] for r in rows] == sorted(r["doc_id"] for r in rows)
    assert all(r["title"] and r["chunks"] >= 1 for r in rows)
    assert {r["lang"] for r in rows} == {"en", "de", "zh"}
    assert sum(r["chunks"] for r in rows) == len(seed_rag.index.chunks())
    assert DOC_EN_ORDERS in {r["doc_id"] for r in rows}


def test_add_cite_remove_and_reload(seed_index_copy: Path, tmp_path: Path) -> None:
    settings = Settings(index_dir=seed_index_copy)
    live = LiveRAG(RAG(settings=settings))
    before = live.rag
    assert live.reload_if_changed() is False  # nothing written yet

    good, binary, empty = _uploads(tmp_path)
    steps: list[tuple[float, str]] = []
    names = {good: "zephyr 9.md", binary: "photo.txt", empty: "C:\\fakepath\\empty.md"}
    report = add_files(
        settings, [good, binary, empty], lambda f, m: steps.append((f, m)), names=names
    )
    assert report.added == ["zephyr_9"] and report.changed
    assert report.updated == [] and report.total_documents == 6
    rejected = dict(report.rejected)
    assert set(rejected) == {"photo.txt", "empty.md"}
    assert rejected["photo.txt"] == (
        "photo.txt is a binary file (a PNG image), not an article (expected text, HTML or JSON)"
    )
    assert rejected["empty.md"] == "empty.md: the article has no text"
    assert all("tmp" not in reason for reason in rejected.values())
    assert steps[-1][0] == 1.0 and [f for f, _ in steps] == sorted(f for f, _ in steps)

    # the running page still answers from the version it loaded ...
    assert "zephyr_9" not in before.index.doc_ids()
    assert live.rag is before
    # ... until it reloads: a new RAG on the new version, same embedder and answerer
    assert live.reload_if_changed() is True
    assert live.rag is not before and live.rag.embedder is before.embedder
    assert live.version == live_version("faiss_bm25", seed_index_copy)
    assert live.reload_if_changed() is False

    answer = live.rag.ask(QUESTION)
    assert not answer.abstained, answer.answer
    assert "96" in answer.answer
    assert "zephyr_9" in {c.doc_id for c in answer.citations}
    row = next(r for r in list_articles(live.rag.index) if r["doc_id"] == "zephyr_9")
    assert row["title"] == "Zephyr-9 unveiled" and row["outlet"] == "Chip Weekly"
    assert row["date"] == "2026-01-15" and row["lang"] == "en"

    again = add_files(settings, [good], names={good: "zephyr 9.md"})  # the same upload
    assert again.unchanged == ["zephyr_9"] and not again.changed
    assert live.reload_if_changed() is False

    removed = remove_article(seed_index_copy, "zephyr_9")  # a folder: default settings
    assert removed.removed == ["zephyr_9"] and removed.total_documents == 5
    assert live.reload_if_changed() is True
    assert "zephyr_9" not in live.rag.index.doc_ids()
    with pytest.raises(InputError, match=r"no document 'zephyr_9' .*known ids: 000_"):
        remove_article(settings, "zephyr_9")


def test_a_tempfile_name_without_a_given_name_gets_an_id_from_its_content(
    tmp_path: Path,
) -> None:
    good, binary, _ = _uploads(tmp_path)
    index = tmp_path / "ix"
    report = add_files(index, [good, binary])
    (doc_id,) = report.added
    assert doc_id.startswith("upload-") and len(doc_id) == len("upload-") + 16
    assert report.rejected[0][0].startswith("upload-") and "binary" in report.rejected[0][1]
    copy = tmp_path / "elsewhere" / "tmpq9w8e7r6.md"
    copy.parent.mkdir()
    copy.write_bytes(good.read_bytes())
    assert add_files(index, [copy]).unchanged == [doc_id]  # same content, same id


def test_nothing_acceptable_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "notes.pdf"
    bad.write_bytes(b"%PDF-1.4")
    report = add_files(tmp_path / "ix", [bad, tmp_path / "missing.md"])
    assert [name for name, _ in report.rejected] == ["notes.pdf", "missing.md"]
    assert "not a readable PDF" in report.rejected[0][1]
    assert "cannot read" in report.rejected[1][1]
    assert not report.changed and report.total_documents is None
    assert not (tmp_path / "ix").exists()


def test_a_doc_id_twice_in_one_batch_refuses_the_second_file(tmp_path: Path) -> None:
    a, b = tmp_path / "a" / "same.md", tmp_path / "b" / "same.md"
    for path, fact in ((a, "The Zephyr-9 chip has 96 GB."), (b, "The Zephyr-8 chip has 64 GB.")):
        path.parent.mkdir()
        path.write_text(fact, encoding="utf-8")
    report = add_files(tmp_path / "ix", [a, b])
    assert report.added == ["same"]
    ((name, reason),) = report.rejected
    assert name == "same.md" and "duplicate document id 'same'" in reason


def test_concurrent_uploads_keep_every_article(tmp_path: Path) -> None:
    index = tmp_path / "ix"
    files = []
    for n in range(3):
        path = tmp_path / f"chip{n}.md"
        path.write_text(f"The Zephyr-{n} chip has {n + 1}0 GB of memory.", encoding="utf-8")
        files.append(path)
    threads = [threading.Thread(target=add_files, args=(index, [f])) for f in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(open_store("faiss_bm25", index).doc_ids()) == ["chip0", "chip1", "chip2"]


def test_reopen_needs_a_store_on_disk(seed_rag: RAG) -> None:
    assert reopen_if_changed(seed_rag) is None
    assert loaded_version(seed_rag) == live_version("faiss_bm25", Path(seed_rag.index.location))
