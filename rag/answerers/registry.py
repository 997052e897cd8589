"""One registry of answerers by name; unknown names list the known ones."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from rag.answerers.base import Answerer
from rag.config import DEFAULT_ANSWERER, Settings
from rag.errors import ConfigError


def _llm_answerer(settings: Settings) -> Answerer:
    from rag.answerers.llm import LLMAnswerer

    return LLMAnswerer(settings.llm)


def _extractive_answerer(settings: Settings) -> Answerer:
    from rag.answerers.extractive import ExtractiveAnswerer

    return ExtractiveAnswerer(settings.extractive)


Factory = Callable[[Settings], Answerer]
_REGISTRY: dict[str, Factory] = {
    "extractive": _extractive_answerer,
    "openai": _llm_answerer,  # any OpenAI-compatible API, hosted or local: see rag/answerers/llm.py
}
# What each answerer is to a reader, for messages such as "The LLM failed (…)".
_LABELS = {"openai": "LLM", "extractive": "extractive answerer"}


def register(name: str, factory: Factory, label: str | None = None) -> None:
    """Add an answerer (tests register fakes here, through the same path as the real ones)."""
    _REGISTRY[name] = factory
    _LABELS[name] = label or f"{name} answerer"


def known_answerers() -> list[str]:
    return sorted(_REGISTRY)


def _factory(name: str) -> Factory:
    if name not in _REGISTRY:
        raise ConfigError(f"unknown answerer {name!r}; known: {', '.join(known_answerers())}")
    return _REGISTRY[name]


def get_answerer(
    name: str = DEFAULT_ANSWERER, fallbacks: Sequence[str] = (), settings: Settings | None = None
) -> Answerer:
    """The answerer called `name`; with `fallbacks`, one that falls back to them, in order,
    whenever it is unavailable (no key, server down, timeout, rate limit)."""
    settings = settings or Settings()
    chain = list(dict.fromkeys([name.strip(), *fallbacks]))
    factories = [_factory(n) for n in chain]
    if len(chain) == 1:
        return factories[0](settings)
    from rag.answerers.fallback import FallbackAnswerer

    return FallbackAnswerer(
        [partial(f, settings) for f in factories], chain, [_LABELS.get(n, n) for n in chain]
    )
