"""Syndicated copies once: near-duplicate articles found with MinHash and LSH (datasketch).

The same wire story appears on many sites with different menus, a changed headline or a
corrected sentence. Comparing each new article with every indexed one does not scale; MinHash
signatures of the article's word shingles (character shingles for Chinese) bucketed by
locality-sensitive hashing find the few candidates that can be copies in constant time, and the
signatures' estimated Jaccard similarity decides. A translation shares no shingles with its
original, so it is never a duplicate: both languages stay, each answering in its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rag import lang as langmod
from rag.ingest.documents import intake

NUM_PERM = 128
# Estimated Jaccard similarity of the shingle sets at or above which two articles are copies.
# A syndicated copy with its own header and footer and a changed sentence keeps well above it;
# two stories on one topic, or one that quotes a paragraph of another, stay far below.
THRESHOLD = 0.6
SHINGLE_WORDS = 3
SHINGLE_CHARS = 4  # for text with no spaces between words


def shingles(text: str) -> set[bytes]:
    """Overlapping word 3-grams of the lower-cased text (character 4-grams of Chinese runs):
    what two copies share and two different stories do not."""
    lowered = text.casefold()
    out: set[bytes] = set()
    if langmod.has_cjk(lowered):
        for run in re.findall(r"[\u3400-\u9fff]+", lowered):
            out.update(run[i : i + SHINGLE_CHARS].encode() for i in range(max(1, len(run) - 3)))
    words = re.findall(r"[^\W_]+", re.sub(r"[\u3400-\u9fff]+", " ", lowered))
    out.update(" ".join(words[i : i + SHINGLE_WORDS]).encode()
               for i in range(max(1, len(words) - SHINGLE_WORDS + 1)) if words)  # fmt: skip
    return out


def signature(text: str) -> Any:
    """The text's MinHash (datasketch.MinHash with NUM_PERM permutations)."""
    minhash = intake("datasketch").MinHash(num_perm=NUM_PERM)
    minhash.update_batch(list(shingles(text)))
    return minhash


@dataclass(frozen=True)
class Match:
    key: str  # the article it copies
    similarity: float  # estimated Jaccard similarity of their shingles


class NearDuplicates:
    """An LSH index of article signatures: `add` each kept article, `match` a new one."""

    def __init__(self, threshold: float = THRESHOLD, num_perm: int = NUM_PERM) -> None:
        self.threshold = threshold
        self._lsh = intake("datasketch").MinHashLSH(threshold=threshold, num_perm=num_perm)
        self._signatures: dict[str, Any] = {}

    def __len__(self) -> int:
        return len(self._signatures)

    def add(self, key: str, minhash: Any) -> None:
        if key in self._signatures:
            self._lsh.remove(key)
        self._lsh.insert(key, minhash)
        self._signatures[key] = minhash

    def match(self, minhash: Any, exclude: Iterable[str] = ()) -> Match | None:
        """The most similar indexed article at or above the threshold, if any."""
        skip = set(exclude)
        best: Match | None = None
        for key in self._lsh.query(minhash):
            if key in skip:
                continue
            similarity = float(minhash.jaccard(self._signatures[key]))
            if similarity >= self.threshold and (best is None or similarity > best.similarity):
                best = Match(key, similarity)
        return best
