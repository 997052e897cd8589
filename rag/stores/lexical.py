"""BM25 over our own tokens with bm25s, for every on-disk store.

The FAISS store and the Milvus store both keep this index beside their vectors: the tokens
(`text.lexical_tokens`: CJK bigrams, snowball stems, numbers) are analysed in Python, so the
lexical ranking is the same whichever backend holds the vectors. Only this module and the stores
that mix it in import bm25s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rag.ingest import text as textmod
from rag.ingest.chunking import DocEntry

LEXICAL = {"scheme": "bm25s", "tokens": "cjk-bigrams+snowball+numbers", "version": 1}


class Bm25sTerms:
    """The lexical hooks of `ArrayStore`, answered by a bm25s index held in `self.bm25`."""

    bm25: Any

    def _lexical_scores(self, terms: Sequence[str]) -> np.ndarray | None:
        token_ids = self.bm25.get_tokens_ids(list(terms)) if self.bm25 is not None else []
        return self.bm25.get_scores(token_ids) if token_ids else None

    def has_term(self, term: str) -> bool:
        return self.bm25 is not None and term in self.bm25.vocab_dict

    def _term_presence(self, term: str) -> np.ndarray:
        return np.asarray(self.bm25.get_scores([term]) > 0)


def build_bm25(docs: dict[str, DocEntry]) -> Any:
    """The lexical index over every chunk's tokens (None for no chunks)."""
    import bm25s

    corpus_tokens = [
        textmod.lexical_tokens(c["text"], [c["lang"]]) or [""]
        for entry in docs.values()
        for c in entry.chunks
    ]
    if not corpus_tokens:
        return None
    bm25 = bm25s.BM25()
    bm25.index(corpus_tokens, show_progress=False)
    return bm25
