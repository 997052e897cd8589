"""The near-duplicate decision measured (`rag eval-duplicates`): pairs built from the vendored
XQuAD articles (48 Wikipedia articles, paragraph-aligned in en, es, de and zh), and the LSH
lookup timed at scale.

Pairs, all deterministic (seed 0):
- **syndicated copies** (duplicates): an article against itself as another site republishes
  it: a changed headline, its own header and footer (byline, "Share this article", related
  links, copyright), and a corrected sentence (a number changed) or a sentence dropped;
- **translations** (not duplicates): the same article in another language;
- **same topic, different story** (not duplicates): the first half of an article's paragraphs
  against the second half, in one language;
- **shared paragraph** (not duplicates): two stories that quote one paragraph in common.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.evaluation import xquad
from rag.ingest import dedup


@dataclass(frozen=True)
class Pair:
    kind: str  # copy | translation | same_topic | shared_paragraph
    a: str
    b: str

    @property
    def duplicate(self) -> bool:
        return self.kind == "copy"


def _articles(folder: Path) -> dict[str, list[list[str]]]:
    """Per language, each XQuAD article as its list of paragraphs (aligned across languages)."""
    out = {}
    for lang in xquad.LANGS:
        data = xquad.load(folder, lang)
        groups: dict[str, list[str]] = {}
        for pid, text in data.paragraphs.items():  # "x07-03": article 7, paragraph 3
            groups.setdefault(pid.split("-")[0], []).append(text)
        out[lang] = list(groups.values())
    return out


HEADERS = ("{outlet} · {date} · 3 min read\nShare this article\n", "By staff writers | {outlet}\n")
FOOTERS = ("\nRelated stories\n- More from {outlet}\n- Most read today\n\n© 2026 {outlet}. "
           "All rights reserved.", "\nThis story was first published by a partner agency.")  # fmt: skip


def syndicated(paragraphs: Sequence[str], rng: random.Random) -> str:
    """The article as another site republishes it."""
    outlet = rng.choice(["Daily Wire", "Morning Post", "Tech Ledger", "Global Desk"])
    sentences = [s for p in paragraphs for s in re.split(r"(?<=[.!?。])\s*", p) if s]
    i = rng.randrange(len(sentences))
    if rng.random() < 0.5 and re.search(r"\d", sentences[i]):
        sentences[i] = re.sub(
            r"\d", lambda m: str((int(m.group()) + 1) % 10), sentences[i], count=1
        )
    elif len(sentences) > 3:
        del sentences[i]
    body = " ".join(sentences)
    date = f"2026-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"
    header = rng.choice(HEADERS).format(outlet=outlet, date=date)
    return f"{header}{body}{rng.choice(FOOTERS).format(outlet=outlet)}"


def build_pairs(folder: Path = xquad.DEFAULT_DIR, seed: int = 0) -> list[Pair]:
    rng = random.Random(seed)
    articles = _articles(folder)
    pairs: list[Pair] = []
    for docs in articles.values():
        for paragraphs in docs[:30]:
            pairs.append(Pair("copy", "\n\n".join(paragraphs), syndicated(paragraphs, rng)))
        for paragraphs in docs[30:45]:
            half = len(paragraphs) // 2
            pairs.append(Pair("same_topic", "\n\n".join(paragraphs[:half]),
                              "\n\n".join(paragraphs[half:])))  # fmt: skip
        for paragraphs in docs[:10]:
            if len(paragraphs) >= 5:
                pairs.append(Pair("shared_paragraph", "\n\n".join(paragraphs[:3]),
                                  "\n\n".join(paragraphs[2:5])))  # fmt: skip
    for i, paragraphs in enumerate(articles["en"][:48]):
        other = ("de", "es", "zh")[i % 3]
        pairs.append(Pair("translation", "\n\n".join(paragraphs), "\n\n".join(articles[other][i])))
    return pairs


def evaluate(pairs: Sequence[Pair], threshold: float = dedup.THRESHOLD) -> dict[str, Any]:
    """Precision and recall of "duplicate", each pair decided through the LSH index (the
    first article indexed, the second looked up), and per kind how many were called copies."""
    said: list[tuple[Pair, bool, float]] = []
    for pair in pairs:
        index = dedup.NearDuplicates(threshold)
        index.add("a", dedup.signature(pair.a))
        match = index.match(dedup.signature(pair.b))
        similarity = float(dedup.signature(pair.a).jaccard(dedup.signature(pair.b)))
        said.append((pair, match is not None, similarity))
    tp = sum(1 for p, s, _ in said if s and p.duplicate)
    fp = sum(1 for p, s, _ in said if s and not p.duplicate)
    fn = sum(1 for p, s, _ in said if not s and p.duplicate)
    kinds: dict[str, list[Any]] = {}
    for p, s, similarity in said:
        row = kinds.setdefault(p.kind, [0, 0, 1.0, 0.0])
        row[0] += 1
        row[1] += s
        row[2], row[3] = min(row[2], similarity), max(row[3], similarity)
    return {
        "pairs": len(said),
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
        "by_kind": {
            k: {
                "pairs": n,
                "called_duplicate": c,
                "similarity_min": round(lo, 3),
                "similarity_max": round(hi, 3),
            }
            for k, (n, c, lo, hi) in kinds.items()
        },
    }


def lookup_benchmark(n: int = 100_000, queries: int = 200, seed: int = 0) -> dict[str, Any]:
    """p50/p95 of one lookup (signing the new article included) in an LSH index of `n`
    synthetic signatures, against a linear scan of the same signatures as the baseline."""
    datasketch = dedup.intake("datasketch")
    rng = np.random.default_rng(seed)
    index = dedup.NearDuplicates()
    started = time.perf_counter()
    for i in range(n):
        values = rng.integers(0, 2**32 - 1, size=dedup.NUM_PERM, dtype=np.uint64)  # affine32
        index.add(str(i), datasketch.LeanMinHash(seed=1, hashvalues=values, scheme="affine32"))
    build = time.perf_counter() - started
    words = [f"w{i}" for i in range(5000)]
    texts = [" ".join(rng.choice(words, size=400)) for _ in range(queries)]
    lsh_ms, scan_ms = [], []
    stored = list(index._signatures.values())
    for text in texts:
        t0 = time.perf_counter()
        index.match(dedup.signature(text))
        lsh_ms.append((time.perf_counter() - t0) * 1000)
    for text in texts[:10]:
        t0 = time.perf_counter()
        query = dedup.signature(text)
        _ = max(query.jaccard(s) for s in stored[:n])
        scan_ms.append((time.perf_counter() - t0) * 1000)
    return {
        "articles": n, "build_s": round(build, 1),
        "lsh_p50_ms": round(float(np.percentile(lsh_ms, 50)), 2),
        "lsh_p95_ms": round(float(np.percentile(lsh_ms, 95)), 2),
        "scan_p50_ms": round(float(np.percentile(scan_ms, 50)), 1),
    }  # fmt: skip
