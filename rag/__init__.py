"""Multilingual, cited-answer Q&A over news articles.

The public entry points are imported lazily so that `import rag` stays cheap for the CLI's cold start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.service import RAG, answer

__all__ = ["RAG", "answer"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from rag import service

        return getattr(service, name)
    raise AttributeError(name)
