"""The embedder protocol: texts in, L2-normalised float32 vectors out.

Queries and passages are embedded separately because e5-style models are trained with
`query:` / `passage:` prefixes and lose accuracy without them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np

Kind = Literal["query", "passage"]


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
