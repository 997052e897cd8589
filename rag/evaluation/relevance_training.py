"""Fitting the cross-lingual relevance network (rag/answerers/relevance.py) with torch on CPU.

Data: XQuAD's training articles in all 16 language pairs. For each question asked over one
language's paragraphs, its retrieved candidate sentences: the gold sentence (in the gold
paragraph, holding the answer) against the rest, among them its own article's other sentences
(hard negatives: the "story" scope). Questions whose answer is a figure weigh FIGURE_WEIGHT
times as much, since most of the product's users ask for numbers.

The answer model's logistic regression reads the network's output, so fitting it on the
network's in-sample output would trust the network more than it deserves: its training
columns are filled out of fold (articles split in two, each half scored by a network fitted on
the other), and the shipped network, fitted on every training article, scores the held-out
ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rag.answerers import scorer as scorermod
from rag.answerers.relevance import RelevanceModel

HIDDEN = 256
EPOCHS = 4
BATCH = 512
# Most of the product's users ask for numbers: questions whose answer is a figure count this
# many times as much in fitting (this network and the answer model's sentence model alike).
FIGURE_WEIGHT = 2.0
SEED = 13


def _pairs(samples: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Unique (question vector, sentence vector, label, weight) rows of the samples whose gold
    paragraph was present, as index arrays into question and sentence tables."""
    questions: dict[tuple[str, str], int] = {}
    sentences: dict[tuple[str, str], int] = {}
    q_vectors: list[np.ndarray] = []
    s_vectors: list[np.ndarray] = []
    seen: set[tuple[int, int]] = set()
    rows: list[tuple[int, int, float, float]] = []
    for sample in samples:
        if not sample.gold_present or not len(sample.candidates):
            continue
        q_key = (sample.q_lang, sample.qid)
        if q_key not in questions:
            questions[q_key] = len(q_vectors)
            q_vectors.append(np.asarray(sample.vector, dtype=np.float32))
        ids = [c.sentence.sentence_id for c in sample.candidates]
        missing = [i for i in ids if (sample.d_lang, i) not in sentences]
        if missing:
            vectors = sample.index.sentence_vectors_of(missing)
            for sid, vector in zip(missing, vectors, strict=True):
                sentences[(sample.d_lang, sid)] = len(s_vectors)
                s_vectors.append(np.asarray(vector, dtype=np.float32))
        weight = FIGURE_WEIGHT if sample.figure_answer else 1.0
        qi = questions[q_key]
        for sid, label in zip(ids, sample.labels, strict=True):
            si = sentences[(sample.d_lang, sid)]
            if (qi, si) not in seen:
                seen.add((qi, si))
                rows.append((qi, si, float(label), weight))
    table = np.asarray(rows, dtype=np.float64)
    return np.vstack(q_vectors), np.vstack(s_vectors), table[:, :2].astype(np.int64), table[:, 2:]


def fit_relevance(
    samples: Sequence[Any],
    embedder_id: str,
    epochs: int = EPOCHS,
    meta: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> RelevanceModel:
    """A network fitted on the samples' candidates: binary cross-entropy, positives weighted to
    balance the classes, figure questions FIGURE_WEIGHT times; deterministic for a given input."""
    import torch

    torch.manual_seed(SEED)
    q_table, s_table, index, label_weight = _pairs(samples)
    labels = torch.tensor(label_weight[:, 0], dtype=torch.float32)
    weights = torch.tensor(label_weight[:, 1], dtype=torch.float32)
    positives = float(labels.sum())
    pos_weight = (len(labels) - positives) / max(1.0, positives)
    q_all = torch.tensor(q_table)
    s_all = torch.tensor(s_table)
    dim = q_table.shape[1]
    first, second = torch.nn.Linear(4 * dim, HIDDEN), torch.nn.Linear(HIDDEN, 1)
    net = torch.nn.Sequential(first, torch.nn.ReLU(), torch.nn.Dropout(0.1), second)
    optimiser = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(SEED)
    rows = torch.tensor(index)
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(len(rows), generator=generator)
        total = 0.0
        for start in range(0, len(order), BATCH):
            batch = order[start : start + BATCH]
            q, s = q_all[rows[batch, 0]], s_all[rows[batch, 1]]
            x = torch.cat([q, s, q * s, (q - s).abs()], dim=1)
            logit = net(x).squeeze(1)
            y, w = labels[batch], weights[batch]
            w = w * torch.where(y > 0, torch.tensor(pos_weight), torch.tensor(1.0))
            loss = (torch.nn.functional.binary_cross_entropy_with_logits(logit, y, reduction="none")
                    * w).sum() / w.sum()  # fmt: skip
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(batch)
        if progress:
            progress(f"relevance epoch {epoch + 1}/{epochs}: loss {total / len(order):.4f}")
    net.eval()
    return RelevanceModel(
        w1=first.weight.detach().numpy().T.copy(),
        b1=first.bias.detach().numpy().copy(),
        w2=second.weight.detach().numpy()[0].copy(),
        b2=float(second.bias.detach()[0]),
        embedder_id=embedder_id,
        meta={
            **(meta or {}),
            "hidden": HIDDEN,
            "epochs": epochs,
            "pairs": len(rows),
            "positives": int(positives),
            "figure_weight": FIGURE_WEIGHT,
        },
    )


def apply_relevance(samples: Sequence[Any], model: RelevanceModel | None) -> None:
    """Fill each sample's relevance columns from `model` (zeros without one)."""
    for sample in samples:
        if not len(sample.x):
            continue
        if model is None:
            sample.x[:, [scorermod.FEATURES.index(f) for f in scorermod.RELEVANCE_FEATURES]] = 0
            continue
        ids = [c.sentence.sentence_id for c in sample.candidates]
        vectors = sample.index.sentence_vectors_of(ids)
        scorermod.set_relevance(sample.x, model.logits(sample.vector, vectors))


def _fold(article: int) -> int:
    """Training articles are even-numbered; alternate them between two folds."""
    return (article // 2) % 2


def cross_fitted_relevance(
    train: Sequence[Any],
    embedder_id: str,
    meta: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> RelevanceModel:
    """Fill the training samples' relevance columns out of fold; return the network fitted on
    all of them (the one to ship and to score held-out articles with)."""
    for fold in (0, 1):
        inside = [s for s in train if _fold(s.article) != fold]
        outside = [s for s in train if _fold(s.article) == fold]
        apply_relevance(outside, fit_relevance(inside, embedder_id, progress=progress))
    return fit_relevance(train, embedder_id, meta=meta, progress=progress)
