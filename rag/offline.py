"""Keep third-party libraries off the network: every model and encoding we use ships in a package."""

from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path


def bundled_tiktoken_cache() -> Path | None:
    """llama-index ships cl100k_base/o200k_base; tiktoken's own download fails offline."""
    spec = find_spec("llama_index.core")
    if spec is None or not spec.submodule_search_locations:
        return None
    cache = Path(next(iter(spec.submodule_search_locations))) / "_static" / "tiktoken_cache"
    return cache if cache.is_dir() else None


def configure() -> None:
    """Set before the first tiktoken/transformers import; the user's own settings win."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if "TIKTOKEN_CACHE_DIR" not in os.environ:
        cache = bundled_tiktoken_cache()
        if cache is not None:
            os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
