"""Shared fixtures: all state in temp folders, no network, one real seed index per session."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from rag.ingest import corpus
from rag.service import RAG
from rag.stores import faiss_bm25 as store

REPO = Path(__file__).resolve().parent.parent
SEED_CORPUS = REPO / "corpus"
DOC_EN_ORDERS = "001_8e054a9a993a0fea"
DOC_DE = "002_d0874370ff9fac6c"
DOC_EN_STOCK = "003_5fe1fa7039f4a59f"
DOC_ZH = "004_fd1bfc3e605606be"
DOC_ES_TITLE = "000_e16efcaedb9a47d9"


def _loopback_only(address: Any) -> None:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and host in ("localhost", ""):
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise RuntimeError(f"network access to {address!r} is forbidden in tests")


@pytest.fixture(autouse=True)
def isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test writes under its own temp dir and can reach nothing but loopback."""
    monkeypatch.setenv("RAG_INDEX", str(tmp_path / "index"))
    monkeypatch.setenv("RAG_CORPUS", str(tmp_path / "no-corpus"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    for name in list(os.environ):  # a developer's LLM settings must not leak into tests
        if name.startswith(("RAG_LLM", "OPENAI_")):
            monkeypatch.delenv(name)
    real_connect = socket.socket.connect

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _loopback_only(address)
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    yield tmp_path


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The five seed articles, indexed once with the default (real) embedder."""
    index_dir = tmp_path_factory.mktemp("seed") / "index"
    store.ingest(index_dir, corpus.load_articles([SEED_CORPUS]), progress=False)
    return index_dir


@pytest.fixture(scope="session")
def seed_rag(seed_index: Path) -> RAG:
    return RAG(seed_index)


@pytest.fixture
def seed_index_copy(seed_index: Path, tmp_path: Path) -> Path:
    """A private copy for tests that change the index."""
    target = tmp_path / "index-copy"
    shutil.copytree(seed_index, target)
    return target


def write_article(folder: Path, name: str, text: str, **meta: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    if meta:
        import json

        (folder / (path.stem + ".meta.json")).write_text(json.dumps(meta), encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_page(index_dir: Path, **settings: Any) -> Iterator[str]:
    """The real chat page over `index_dir`, launched on a free loopback port, then closed;
    `settings` override the defaults (allow_private_urls=True for the loopback feeds)."""
    from rag.apps import web
    from rag.config import Settings

    config = Settings(index_dir=index_dir, **settings)
    app = web.create_app(web.ChatBackend(index_dir, settings=config))
    port = free_port()
    web.launch(app, "127.0.0.1", port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.close()
