"""The on-disk index survives a killed writer, refuses damaged files with one actionable line,
and a write that runs out of space leaves the old version live.

Every check ends the same way: the index opens, answers a seed question with a citation, and
holds exactly one version's documents (ids and content hashes), never a mix.
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from rag.errors import IndexDamaged, IndexMismatch, IndexUnavailable, IndexWriteFailed
from rag.ingest import corpus
from rag.service import RAG
from rag.stores import faiss_bm25 as store
from rag.stores.registry import get_store
from tests.conftest import DOC_EN_ORDERS, REPO, SEED_CORPUS, write_article

QUESTION = "How many H200 chips will Alibaba order?"
EXTRA_IDS = ("x-licences", "x-tariffs")


def _cli(*args: str, index: Path, **popen: object) -> subprocess.Popen[str]:
    """`rag ARGS --index INDEX` in a child process running this worktree's code."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "rag.apps.cli", *args, "--index", str(index)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def _run(*args: str, index: Path, **popen: object) -> subprocess.CompletedProcess[str]:
    proc = _cli(*args, index=index, **popen)
    out, err = proc.communicate(timeout=600)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _documents(index_dir: Path) -> dict[str, str]:
    """Doc id → content hash, as loaded from the live version (its records, not the manifest
    alone: open_index also checks that the two agree)."""
    loaded = store.open_index(index_dir)
    held = {d: e.sha256 for d, e in loaded.docs.items()}
    assert held == {d: e["sha256"] for d, e in loaded.manifest["documents"].items()}
    return held


def _answers_seed_question(index_dir: Path) -> None:
    answer = RAG(index_dir).ask(QUESTION)
    assert "200,000" in answer.answer and not answer.abstained
    assert DOC_EN_ORDERS in {c.doc_id for c in answer.citations}


def _extras(folder: Path) -> Path:
    write_article(
        folder,
        f"{EXTRA_IDS[0]}.txt",
        "Export licences for the H200 were discussed again on Monday.\n\n"
        "Officials said more talks are planned next month in Geneva.",
        lang="en",
    )
    write_article(
        folder,
        f"{EXTRA_IDS[1]}.txt",
        "A short note about chip tariffs.\n\nAnalysts expect little change this quarter.",
        lang="en",
    )
    return folder


def _leftovers(index_dir: Path) -> list[str]:
    """What an interrupted write leaves beside the versions: temp folders and pointer files."""
    return sorted(p.name for p in index_dir.iterdir() if p.name.startswith((".tmp-", ".CURRENT.")))


def _kill_when_writing(
    proc: subprocess.Popen[str], index_dir: Path, entries_before: set[str], delay: float
) -> None:
    """SIGKILL `proc` `delay` s after a new temp version folder appears (polled every 1 ms);
    nothing if it ends first."""
    while proc.poll() is None:
        if any(
            p.name.startswith(".tmp-v-") and p.name not in entries_before
            for p in index_dir.iterdir()
        ):
            time.sleep(delay)
            proc.kill()
            return
        time.sleep(0.001)


@pytest.mark.slow
def test_sigkill_at_random_points_leaves_old_or_new_index(
    seed_index_copy: Path, tmp_path: Path
) -> None:
    ix = seed_index_copy
    extras = _extras(tmp_path / "extra")
    old = _documents(ix)
    started = time.monotonic()
    assert _run("ingest", str(extras), "--quiet", index=ix).returncode == 0
    durations = {"ingest": time.monotonic() - started}
    new = _documents(ix)
    assert set(new) == set(old) | set(EXTRA_IDS) and all(new[d] == old[d] for d in old)
    started = time.monotonic()
    assert _run("remove", *EXTRA_IDS, index=ix).returncode == 0
    durations["remove"] = time.monotonic() - started
    assert _documents(ix) == old

    rng = random.Random(13)
    rows = []
    for i in range(33):
        # From the old set ingest the extras, from the new set remove them: every run writes.
        before = _documents(ix)
        command = "ingest" if before == old else "remove"
        args = ("ingest", str(extras), "--quiet") if command == "ingest" else ("remove", *EXTRA_IDS)
        entries = {p.name for p in ix.iterdir()}
        proc = _cli(*args, index=ix)
        if i % 3 == 2:  # a third aimed at the version write, which is a few ms of the run
            aim = "write"
            # at once, or within 5 ms: on an idle machine the whole write takes a few ms
            _kill_when_writing(proc, ix, entries, 0.0 if i % 6 == 2 else rng.uniform(0, 0.005))
        else:
            aim = "random"
            time.sleep(rng.uniform(0, durations[command]))
            proc.kill()  # SIGKILL; nothing if it has ended
        proc.communicate(timeout=600)
        killed = proc.returncode == -signal.SIGKILL
        held = _documents(ix)
        assert held in (old, new), f"kill {i}: a mix of versions: {sorted(held)}"
        _answers_seed_question(ix)
        rows.append((i, command, aim, killed, _landed(ix, entries, held != before)))
    # The next complete write clears what the killed ones left.
    command = (
        ("ingest", str(extras), "--quiet") if _documents(ix) == old else ("remove", *EXTRA_IDS)
    )
    assert _run(*command, index=ix).returncode == 0
    assert _leftovers(ix) == []
    assert len([p for p in ix.iterdir() if p.name.startswith("v-")]) <= 2
    _answers_seed_question(ix)

    print(f"\nuninterrupted: ingest {durations['ingest']:.1f}s, remove {durations['remove']:.1f}s")
    print("kill command  aim     killed landed")
    for row in rows:
        print("{:4} {:8} {:7} {!s:6} {}".format(*row))
    landed = Counter(r[4] for r in rows if r[3])
    print(f"{sum(landed.values())} kills: {dict(landed)}")
    assert sum(landed.values()) >= 20
    assert landed["during the write"] >= 1  # the window that matters was hit


def _landed(index_dir: Path, entries_before: set[str], switched: bool) -> str:
    """Where in the write a kill landed, from what it left in the index folder."""
    new = {p.name for p in index_dir.iterdir()} - entries_before
    if switched:
        return "after the switch"
    if any(name.startswith((".tmp-", ".CURRENT.")) for name in new):
        return "during the write"
    if any(name.startswith("v-") for name in new):
        return "renamed, before the switch"
    return "before the write"


# ------------------------------------------------------------------ damaged files


def _version(ix: Path) -> Path:
    return ix / (ix / store.CURRENT).read_text().strip()


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garble(path: Path) -> None:
    """Same size, other bytes: only a checksum or the reader's own checks can tell."""
    path.write_bytes(random.Random(7).randbytes(path.stat().st_size))


def _bad_line(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[1] = "{" + "x" * (len(lines[1].encode()) - 2) + "\n"  # same size, not JSON
    path.write_text("".join(lines), encoding="utf-8")


def _fewer_sentences(path: Path) -> None:
    """A valid array from another version: fewer rows than the documents need."""
    np.save(path, np.load(path)[:-3])


def _edit_text(path: Path) -> None:
    """Valid JSON, same size, one figure changed: the parser cannot tell, the checksum can."""
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("200,000", "900,000", 1), encoding="utf-8")


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    # case: (damage to the live version folder, the file the message must name)
    "chunks.faiss truncated": (lambda v: _truncate(v / "chunks.faiss"), "chunks.faiss"),
    "chunks.faiss garbage": (lambda v: _garble(v / "chunks.faiss"), "chunks.faiss"),
    "sentences.npy garbage": (lambda v: _garble(v / "sentences.npy"), "sentences.npy"),
    "sentences.npy short": (lambda v: _fewer_sentences(v / "sentences.npy"), "sentences.npy"),
    "documents.jsonl bad line": (lambda v: _bad_line(v / "documents.jsonl"), "documents.jsonl"),
    "bm25 vocab garbage": (lambda v: _garble(v / "bm25" / "vocab.index.json"), "bm25"),
    "manifest not JSON": (lambda v: (v / "manifest.json").write_text("{not json"), "manifest.json"),
    "CURRENT names a missing folder": (
        lambda v: (v.parent / store.CURRENT).write_text("v-20200101T000000-gone\n"),
        "CURRENT",
    ),
    "CURRENT garbage": (
        lambda v: (v.parent / store.CURRENT).write_bytes(b"\xff\xfe\x00"),
        "CURRENT",
    ),
}
CHECKSUM_ONLY = {
    "documents.jsonl text edited": (lambda v: _edit_text(v / "documents.jsonl"), "documents.jsonl"),
    "chunks.npy deleted": (lambda v: (v / "chunks.npy").unlink(), "chunks.npy"),
}


def _one_line_rebuild_hint(message: str, ix: Path) -> None:
    assert "\n" not in message and "Traceback" not in message
    assert f"rag ingest corpus --index {ix} --rebuild" in message


@pytest.mark.parametrize("case", [*DAMAGE, *CHECKSUM_ONLY])
def test_damaged_file_is_refused_with_the_rebuild_command(seed_index_copy: Path, case: str) -> None:
    ix = seed_index_copy
    damage, names = {**DAMAGE, **CHECKSUM_ONLY}[case]
    damage(_version(ix))
    before = sorted(p.name for p in ix.iterdir())
    with pytest.raises(IndexDamaged) as caught:
        store.open_index(ix)
    message = str(caught.value)
    assert names in message and "damaged" in message
    _one_line_rebuild_hint(message, ix)
    print(f"\n{case}: {message}")

    result = _run("ask", QUESTION, index=ix)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("rag: error: the index at")
    assert result.stderr.strip() == f"rag: error: {message}"

    with pytest.raises(IndexDamaged):  # never rebuilt over: what it held may be needed
        RAG.open_or_build(ix, corpus_dir=SEED_CORPUS)
    assert sorted(p.name for p in ix.iterdir()) == before


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damage_is_found_without_recorded_checksums(seed_index_copy: Path, case: str) -> None:
    """Versions written before files were recorded (or files above verify_max_bytes) are
    checked by reading their structure and counts: still refused, never half-loaded."""
    ix = seed_index_copy
    manifest_path = _version(ix) / store.MANIFEST
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    del manifest["files"]
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    damage, names = DAMAGE[case]
    damage(manifest_path.parent)
    with pytest.raises(IndexDamaged, match=names.replace(".", r"\.")) as caught:
        store.open_index(ix)
    _one_line_rebuild_hint(str(caught.value), ix)
    print(f"\n{case} (no checksums): {caught.value}")


def test_index_from_another_release_is_refused(seed_index_copy: Path) -> None:
    ix = seed_index_copy
    manifest_path = _version(ix) / store.MANIFEST
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["format"] = store.FORMAT_VERSION + 1
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexMismatch, match="another release of rag") as caught:
        store.open_index(ix)
    message = str(caught.value)
    assert f"format {store.FORMAT_VERSION + 1}" in message
    _one_line_rebuild_hint(message, ix)
    print(f"\nformat {store.FORMAT_VERSION + 1}: {message}")
    result = _run("ask", QUESTION, index=ix)
    assert result.returncode == 1 and result.stderr.strip() == f"rag: error: {message}"
    with pytest.raises(IndexMismatch):
        RAG.open_or_build(ix, corpus_dir=SEED_CORPUS)


def test_rebuild_replaces_a_damaged_index_and_keeps_its_feedback(
    seed_index_copy: Path, tmp_path: Path
) -> None:
    ix = seed_index_copy
    (ix / "feedback.jsonl").write_text('{"kept": true}\n', encoding="utf-8")
    _garble(_version(ix) / "chunks.faiss")
    one = tmp_path / "one"
    one.mkdir()
    for name in (f"{DOC_EN_ORDERS}.txt", f"{DOC_EN_ORDERS}.meta.json"):
        shutil.copy(SEED_CORPUS / name, one / name)
    assert _run("ingest", str(one), "--quiet", index=ix).returncode == 1  # adding: refused
    result = _run("ingest", str(one), "--quiet", "--rebuild", index=ix)
    assert result.returncode == 0, result.stderr
    assert set(_documents(ix)) == {DOC_EN_ORDERS}
    _answers_seed_question(ix)
    assert (ix / "feedback.jsonl").read_text(encoding="utf-8") == '{"kept": true}\n'


# ------------------------------------------------------------------ disk full


# `rag ARGS` with writes past LIMIT bytes failing (RLIMIT_FSIZE: Python ignores SIGXFSZ, so a
# write gets EFBIG) once the process has started: the language model unpacks into a temp file
# first, as it would have before a disk filled up.
LIMITED_CLI = """
import resource, sys
from rag import lang
from rag.apps import cli
lang.detect("Export licences for the chips were discussed again on Monday.")
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]),) * 2)
sys.exit(cli.main(sys.argv[2:]))
"""


def test_write_past_the_file_size_limit_fails_cleanly(
    seed_index_copy: Path, tmp_path: Path
) -> None:
    ix = seed_index_copy
    before, old = (ix / store.CURRENT).read_text(), _documents(ix)
    biggest = max(p.stat().st_size for p in _version(ix).rglob("*") if p.is_file())
    limit = str(biggest // 2)  # the new version's largest file cannot be written
    extras = str(_extras(tmp_path / "extra"))
    result = subprocess.run(
        [sys.executable, "-c", LIMITED_CLI, limit, "ingest", extras, "--quiet", "--index", str(ix)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    print(f"\nRLIMIT_FSIZE {limit}: exit {result.returncode}: {result.stderr.strip()}")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"rag: error: cannot write the index at {ix} (")
    assert f"the index is unchanged (still {before.strip()})" in result.stderr
    assert "free some disk space" in result.stderr
    assert (ix / store.CURRENT).read_text() == before and _documents(ix) == old
    assert _leftovers(ix) == [] and [p.name for p in ix.glob("v-*")] == [before.strip()]
    _answers_seed_question(ix)


def test_disk_full_mid_write_leaves_the_old_version(
    seed_index_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ix = seed_index_copy
    before, old = (ix / store.CURRENT).read_text(), _documents(ix)
    real_save = store._save_array

    def full_disk(path: Path, array: np.ndarray) -> None:
        """The disk fills up after the first half of the sentence vectors."""
        if path.name == "sentences.npy":
            real_save(path, array[: len(array) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real_save(path, array)

    monkeypatch.setattr(store, "_save_array", full_disk)
    articles = corpus.load_articles([_extras(tmp_path / "extra")])
    with pytest.raises(IndexWriteFailed) as caught:
        get_store("faiss_bm25", ix).upsert(articles, progress=False)
    message = str(caught.value)
    print(f"\nENOSPC: {message}")
    assert message == (
        f"cannot write the index at {ix} (No space left on device); the index is unchanged "
        f"(still {before.strip()}): free some disk space and run the command again"
    )
    monkeypatch.undo()
    assert (ix / store.CURRENT).read_text() == before and _documents(ix) == old
    assert _leftovers(ix) == [] and [p.name for p in ix.glob("v-*")] == [before.strip()]
    _answers_seed_question(ix)


def test_first_write_failing_leaves_no_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(store, "_fsync_tree", no_space)
    ix = tmp_path / "new"
    with pytest.raises(IndexWriteFailed, match="no index was written: free some disk space"):
        store.ingest(ix, corpus.load_articles([_extras(tmp_path / "extra")]), progress=False)
    assert list(ix.iterdir()) == []
    with pytest.raises(IndexUnavailable, match="no index at"):
        store.open_index(ix)
