"""User-facing errors: front ends print `str(err)` as one line, never a traceback.

The kinds tell a front end what to do, not only what to say: an input error is the user's to
fix and is never retried elsewhere; an unavailable answerer (no key, server down, timeout, rate
limit) is the one failure a fallback answerer may route around.
"""


class RagError(Exception):
    """A problem the user can fix; the message says how."""


class InputError(RagError):
    """The question, a file or a flag is not usable as given."""


class ConfigError(RagError):
    """The configuration names something unknown or holds a value out of range."""


class MissingExtra(ConfigError):
    """An optional dependency is not installed."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"{package} is not installed: run `pip install 'rag-news[{extra}]'` (or `make install`)"
        )


class IndexUnavailable(RagError):
    """No index where one was expected, or one that cannot be read."""


class IndexMismatch(IndexUnavailable):
    """The index was built differently (embedder, dimension, chunking, store) from what is asked."""


class IndexDamaged(IndexUnavailable):
    """A file of the live index version is missing, truncated or altered: it is refused (and
    never silently rebuilt over, which would lose what it held); the message says how to rebuild."""


class IndexWriteFailed(RagError):
    """A new index version could not be written (disk full, no permission); the live version
    was left as it was."""


class AnswererUnavailable(RagError):
    """The answerer cannot be used right now: no key, server down, timeout, rate limit."""
