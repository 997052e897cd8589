"""One registry of answerers by name; unknown names list the known ones."""

from __future__ import annotations

import os
from collections.abc import Callable

from rag.answerers.base import Answerer
from rag.errors import RagError


def _llm_answerer() -> Answerer:
    from rag.answerers.llm import LLMAnswerer

    return LLMAnswerer()


def _learned_answerer() -> Answerer:
    from rag.answerers.learned import LearnedAnswerer

    return LearnedAnswerer()


def _extractive_answerer() -> Answerer:
    from rag.answerers.extractive import ExtractiveAnswerer

    return ExtractiveAnswerer()


_REGISTRY: dict[str, Callable[[], Answerer]] = {
    "extractive": _extractive_answerer,
    "openai": _llm_answerer,  # any OpenAI-compatible API, hosted or local: see rag/answerers/llm.py
    "learned": _learned_answerer,  # the XQuAD-fitted scorer: see rag/answerers/learned.py
}


def known_answerers() -> list[str]:
    return sorted(_REGISTRY)


def get_answerer(name: str | None = None) -> Answerer:
    """By name; with none given, RAG_LLM decides, and the default is the extractive one."""
    name = (name or os.environ.get("RAG_LLM") or "extractive").strip()
    if name not in _REGISTRY:
        raise RagError(f"unknown answerer {name!r}; known: {', '.join(known_answerers())}")
    return _REGISTRY[name]()
