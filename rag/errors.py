"""User-facing errors: front ends print `str(err)` as one line, never a traceback."""


class RagError(Exception):
    """A problem the user can fix; the message says how."""


class MissingExtra(RagError):
    """An optional dependency is not installed."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"{package} is not installed: run `pip install 'rag-news[{extra}]'` (or `make install`)"
        )
