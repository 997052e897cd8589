"""The answerer registry and the fallback wrapper, with fakes registered through the real
registry: a fallback happens on an unavailable answerer and never on bad input."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rag.answerers import registry
from rag.answerers.base import Answerer, StreamEvent
from rag.answers import Answer, Evidence
from rag.config import Settings
from rag.errors import AnswererUnavailable, ConfigError, InputError, RagError
from rag.service import RAG

QUESTION = "Wie viele H200-Einheiten will Alibaba abnehmen?"


class _Down(Answerer):
    """An LLM whose server is down: it starts streaming, then the connection drops."""

    name = "down"

    def answer(self, evidence: Evidence) -> Answer:
        raise AnswererUnavailable("cannot reach the LLM server at http://127.0.0.1:9/v1")

    def stream(self, evidence: Evidence) -> Iterator[StreamEvent]:
        yield "Partial "
        raise AnswererUnavailable("cannot reach the LLM server at http://127.0.0.1:9/v1")


class _Picky(Answerer):
    """An answerer that rejects its input: that is the user's to fix, not a reason to fall back."""

    name = "picky"

    def answer(self, evidence: Evidence) -> Answer:
        raise InputError("the question names no company")


def _no_key(settings: Settings) -> Answerer:
    raise AnswererUnavailable("no API key for the LLM")


@pytest.fixture(autouse=True)
def fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "_LABELS", dict(registry._LABELS))
    registry.register("down", lambda settings: _Down(), "LLM")
    registry.register("picky", lambda settings: _Picky())
    registry.register("nokey", _no_key, "LLM")


def test_unknown_answerer_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"known: .*down.*extractive.*openai"):
        registry.get_answerer("gpt-7")


def test_an_unavailable_answerer_falls_back_and_the_answer_says_why(seed_rag: RAG) -> None:
    answerer = registry.get_answerer("down", ["extractive"])
    events = list(seed_rag.ask_stream(QUESTION, answerer=answerer))
    final = events[-1]
    assert isinstance(final, Answer) and final.answerer == "extractive"
    assert "200.000" in final.answer and final.citations
    assert final.notice.startswith("The LLM failed (cannot reach the LLM server")
    assert final.notice.endswith("this is the extractive answer instead.")


def test_one_that_cannot_even_be_built_falls_back_too(seed_rag: RAG) -> None:
    result = seed_rag.ask(QUESTION, answerer=registry.get_answerer("nokey", ["extractive"]))
    assert result.notice.startswith("The LLM is not available (no API key")
    assert "200.000" in result.answer


def test_bad_input_is_never_mistaken_for_an_outage(seed_rag: RAG) -> None:
    with pytest.raises(InputError, match="names no company"):
        seed_rag.ask(QUESTION, answerer=registry.get_answerer("picky", ["extractive"]))


def test_the_last_failure_is_raised_when_nothing_is_available(seed_rag: RAG) -> None:
    with pytest.raises(AnswererUnavailable, match="no API key"):
        seed_rag.ask(QUESTION, answerer=registry.get_answerer("down", ["nokey"]))


def test_no_fallback_without_fallbacks(seed_rag: RAG) -> None:
    with pytest.raises(RagError, match="cannot reach"):
        seed_rag.ask(QUESTION, answerer=registry.get_answerer("down"))


def test_settings_choose_the_answerer_and_its_fallbacks() -> None:
    settings = Settings.from_env({"RAG_LLM": "openai", "RAG_LLM_FALLBACK": "extractive, down"})
    assert settings.answerer == "openai" and settings.fallbacks == ("extractive", "down")
    with pytest.raises(ConfigError, match="PORT must be a port number"):
        Settings.from_env({"PORT": "eighty"})
