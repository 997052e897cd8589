"""Cross-lingual relevance: a small network that reads the question's and a sentence's vectors
together, where the answer model's other signal, their cosine, reads only their angle.

Why: across languages a small multilingual embedder puts every sentence of an on-topic article
at much the same cosine from the question, and a pair of languages nobody tuned on sits lower
still. A two-layer network over `[q, s, q·s, |q−s|]` (the usual sentence-pair features), fitted on
XQuAD's training articles in all 16 language pairs with the gold sentence against its own
article's other sentences, learns which dimensions of that agreement mean "answers it". It runs
in numpy (one 1,536×H matrix product for all candidates of a question), so answering needs no
torch; `rag train-scorer` fits it with torch and writes it beside the answer model
(`answer_model.relevance.npz`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ConfigError

FORMAT = 1


def pair_features(question: np.ndarray, sentences: np.ndarray) -> np.ndarray:
    """`[q, s, q·s, |q−s|]` for each sentence row: what the network reads."""
    q = np.broadcast_to(np.asarray(question, dtype=np.float32), sentences.shape)
    s = np.asarray(sentences, dtype=np.float32)
    return np.hstack([q, s, q * s, np.abs(q - s)])


@dataclass
class RelevanceModel:
    """ReLU hidden layer, one logit out: log-odds that the sentence answers the question."""

    w1: np.ndarray  # (4·dim, hidden)
    b1: np.ndarray  # (hidden,)
    w2: np.ndarray  # (hidden,)
    b2: float
    embedder_id: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return int(self.w1.shape[0] // 4)

    def logits(self, question: np.ndarray, sentences: np.ndarray) -> np.ndarray:
        """One logit per sentence row (empty in, empty out)."""
        if len(sentences) == 0:
            return np.empty(0, dtype=np.float64)
        hidden = np.maximum(pair_features(question, sentences) @ self.w1 + self.b1, 0.0)
        return (hidden @ self.w2 + self.b2).astype(np.float64)

    def save(self, path: Path) -> None:
        import json

        np.savez_compressed(
            path,
            format=np.array(FORMAT),
            w1=self.w1.astype(np.float16),
            b1=self.b1.astype(np.float32),
            w2=self.w2.astype(np.float32),
            b2=np.array(self.b2, dtype=np.float32),
            embedder_id=np.array(self.embedder_id),
            meta=np.array(json.dumps(self.meta, ensure_ascii=False)),
        )

    @classmethod
    def load(cls, path: Path) -> RelevanceModel:
        import json

        try:
            with np.load(path, allow_pickle=False) as data:
                if int(data["format"]) != FORMAT:
                    raise ValueError(f"format {int(data['format'])}, expected {FORMAT}")
                return cls(
                    w1=data["w1"].astype(np.float32),
                    b1=data["b1"].astype(np.float32),
                    w2=data["w2"].astype(np.float32),
                    b2=float(data["b2"]),
                    embedder_id=str(data["embedder_id"]),
                    meta=json.loads(str(data["meta"])),
                )
        except (OSError, ValueError, KeyError) as err:
            raise ConfigError(
                f"cannot read the relevance model {path} ({err}): rebuild it with "
                "`rag train-scorer`"
            ) from None


@lru_cache(maxsize=4)
def load_relevance(path: Path) -> RelevanceModel:
    return RelevanceModel.load(path)
