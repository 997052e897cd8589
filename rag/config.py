"""One typed configuration, and the only reader of environment variables.

Entry points (the CLI, the web page) call `Settings.from_env()` once and pass the
settings down; library code and tests build `Settings(...)` directly, so nothing deep in the
package consults the environment and no test has to patch module globals. Tuning values live
here too, each next to a note on where it came from.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlsplit, urlunsplit

from rag.errors import AnswererUnavailable, ConfigError

DEFAULT_ANSWERER = "extractive"


def redact_url(url: str) -> str:
    """`url` as it may be shown in an error or on the page: a password in it
    (http://user:password@host/v1) becomes ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every secret (API key, token) replaced by ***: an error message quotes what
    a server said, and a server may quote the key it was sent."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class RedactingFilter(logging.Filter):
    """Masks secrets in every record a log handler writes: libraries log what they send
    (slack_sdk logs each retried URL, a password in it included)."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self.secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        return True


@dataclass(frozen=True)
class LLMSettings:
    """Where the model is and how patiently to talk to it. `from_env` reads RAG_LLM_* first,
    then the usual OPENAI_* variables."""

    base_url: str | None
    model: str
    api_key: str | None
    timeout_s: float = 60.0
    retries: int = 2
    max_tokens: int = 512
    max_sources: int = 6
    source_chars: int = 1500  # per source: the retrieved chunk, cut on a sentence if longer
    temperature: float = 0.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LLMSettings:
        env = os.environ if env is None else env

        def first(*names: str) -> str | None:
            return next((env[n] for n in names if env.get(n)), None)

        def number(name: str, default: float, low: float) -> float:
            raw = env.get(name)
            try:
                value = float(raw) if raw else default
            except ValueError:
                raise ConfigError(f"{name} must be a number, not {raw!r}") from None
            if value < low:
                raise ConfigError(f"{name} must be at least {low:g}, not {raw}")
            return value

        return cls(
            base_url=first("RAG_LLM_BASE_URL", "OPENAI_BASE_URL", "OPENAI_API_BASE"),
            model=first("RAG_LLM_MODEL", "OPENAI_MODEL") or "gpt-4o-mini",
            api_key=first("RAG_LLM_API_KEY", "OPENAI_API_KEY"),
            timeout_s=number("RAG_LLM_TIMEOUT", 60.0, 1.0),
            retries=int(number("RAG_LLM_RETRIES", 2, 0)),
            max_tokens=int(number("RAG_LLM_MAX_TOKENS", 512, 16)),
            max_sources=int(number("RAG_LLM_SOURCES", 6, 1)),
        )

    @property
    def where(self) -> str:
        """The server, as it may be shown: no password."""
        return redact_url(self.base_url or "https://api.openai.com/v1")

    @property
    def is_local(self) -> bool:
        host = urlparse(self.base_url or "").hostname or ""
        return host in ("127.0.0.1", "localhost", "::1", "0.0.0.0")

    def check(self) -> None:
        """A hosted API needs a key; a local server does not."""
        if self.base_url and not urlparse(self.base_url).scheme.startswith("http"):
            raise ConfigError(
                f"RAG_LLM_BASE_URL must be an http(s) URL such as "
                f"http://127.0.0.1:8080/v1, not {redact_url(self.base_url)!r}"
            )
        if not self.api_key and not self.is_local:
            raise AnswererUnavailable(
                "no API key for the LLM: set RAG_LLM_API_KEY (or OPENAI_API_KEY), or point "
                "RAG_LLM_BASE_URL at a local server, e.g. http://127.0.0.1:8080/v1 for llama.cpp"
            )


@dataclass(frozen=True)
class ExtractiveSettings:
    """How the default answerer assembles an answer; whether to answer at all is its model's
    call (rag/answerers/answer_model.json)."""

    max_sentences: int = 3
    duplicate_cosine: float = 0.95
    conflict_ratio: float = 0.5  # another article's related figure must be this probable


DEFAULT_ENCODING = "o200k_base"


@dataclass(frozen=True)
class ChunkingSettings:
    """How articles are cut into chunks; an index records them and refuses others."""

    max_tokens: int = 200  # the seed set's abstention suffers at 400 (eval/README.md)
    overlap_sentences: int = 0
    encoding: str = DEFAULT_ENCODING

    def as_dict(self) -> dict[str, Any]:
        return {
            "max_tokens": self.max_tokens,
            "overlap_sentences": self.overlap_sentences,
            "encoding": self.encoding,
            "splitter": "pysbd+lines",
        }


@dataclass(frozen=True)
class RetrievalSettings:
    """How the rankings are fused and how much evidence an answerer sees."""

    rrf_k: int = 60  # reciprocal rank fusion's damping; k = 20 measured no better (eval/README)
    candidates: int = 50  # each ranking is cut here before fusion
    answer_context_chunks: int = 6
    per_language_chunks: int = 2  # the answerer also sees the best chunks of every other language


@dataclass(frozen=True)
class StoreSettings:
    """When a store changes how it searches, so that a query's cost stays flat as it grows."""

    # Above this many chunks the FAISS index becomes IVF with fp16 vectors (measured in
    # `rag bench speed`: exact search stays under a few ms below it).
    ann_min_chunks: int = 200_000
    # Up to this many sentences every one is scored (a 100k × 384 product is a few ms); above
    # it, only the sentences of the dense and lexical candidates.
    sentence_scan_limit: int = 100_000
    # Files of an index version up to this size are checked against their recorded sha256 when
    # it is opened (sha256 reads ~1.7 GB/s here, so at most ~20 ms a file); larger ones (the
    # vectors of a big index, memory-mapped so that opening stays cheap) are checked by size
    # and by reading their structure only.
    verify_max_bytes: int = 32 * 2**20
    # The Milvus store's vector index: FLAT is exact, as the FAISS store is below ann_min_chunks
    # (same hits, same answers); a cluster holding millions of chunks wants HNSW or IVF_FLAT.
    milvus_index: str = "FLAT"
    # MILVUS_TOKEN: "user:password" or an API key for a Milvus server that asks for one.
    milvus_token: str = field(default="", repr=False)


@dataclass(frozen=True)
class IngestSettings:
    """How `rag ingest` runs chunk-and-embed: in this process, or mapped over a Ray cluster."""

    engine: str = "local"  # or "ray" (`rag ingest --engine ray`)
    # Ray actors, each holding one embedder: one per core of the 2-core machine it was measured
    # on (`rag bench speed --engine ray`, docs/scale.md)
    workers: int = 2
    # articles per Ray batch: ~5 chunks and ~20 sentences an article, so ~16 embedder calls of
    # 16 texts each, enough to keep the per-batch scheduling cost small; small enough that
    # 240 articles still spread over 2 workers
    batch_size: int = 16


@dataclass(frozen=True)
class InputLimits:
    """How much input one request may bring; past these the user gets a reason, not a hang.

    A question of 2,000 characters is a long paragraph; past it the input is a pasted article,
    not a question. A news article is well under 1 MB; 32 MB still takes a JSONL export of a
    few thousand articles, which is read whole into memory and scanned for its encoding. The
    page's upload takes 50 files at a time, a folder's worth, each embedded before the page
    answers again."""

    max_question_chars: int = 2000
    max_file_bytes: int = 32_000_000
    max_upload_files: int = 50


@dataclass(frozen=True)
class LoadSettings:
    """Limits of `rag bench load` (rag/evaluation/load.py), not of the servers it measures."""

    # A server that has not answered /healthz or its page by then failed to start: a cold
    # start (imports, model and index load) took ~10-20 s on the 2-core dev machine.
    start_timeout_s: float = 180.0
    # One question that has no answer by then is counted as an error, not waited for: 20
    # concurrent questions on 2 cores took seconds each, not minutes.
    request_timeout_s: float = 120.0
    # How often the soak samples the servers' memory.
    rss_sample_s: float = 10.0


SLACK_API = "https://slack.com/api/"
COMMAND_RESPONSES = ("in_channel", "ephemeral")


@dataclass(frozen=True)
class SlackSettings:
    """The Slack app's credentials and how the bot answers (SLACK_* variables).

    HTTP mode needs the bot token and the signing secret; Socket Mode needs the bot token and
    the app-level token. `api_base_url` exists so tests can point the Web API client at a
    server of their own.
    """

    bot_token: str | None = None
    signing_secret: str | None = None
    app_token: str | None = None
    api_base_url: str = SLACK_API
    command: str = "/news"
    command_response: str = "in_channel"  # or "ephemeral": who sees a slash command's answer
    update_interval_s: float = 1.0  # a streamed answer edits its message at most this often
    port: int = 3000

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SlackSettings:
        """SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_APP_TOKEN, SLACK_API_BASE_URL,
        SLACK_COMMAND, SLACK_COMMAND_RESPONSE, SLACK_PORT."""
        env = os.environ if env is None else env
        base = env.get("SLACK_API_BASE_URL") or SLACK_API
        port = env.get("SLACK_PORT") or "3000"
        if not port.isdigit():
            raise ConfigError(f"SLACK_PORT must be a port number, not {port!r}")
        return cls(
            bot_token=env.get("SLACK_BOT_TOKEN") or None,
            signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
            app_token=env.get("SLACK_APP_TOKEN") or None,
            api_base_url=base if base.endswith("/") else base + "/",
            command=env.get("SLACK_COMMAND") or "/news",
            command_response=(env.get("SLACK_COMMAND_RESPONSE") or "in_channel").strip(),
            port=int(port),
        )

    def secrets(self) -> tuple[str | None, ...]:
        """What no log line or error may show: the tokens, and a password in the API URL."""
        return (self.bot_token, self.signing_secret, self.app_token,
                urlsplit(self.api_base_url).password)  # fmt: skip

    def check(self, socket_mode: bool) -> None:
        """Name every credential the chosen mode lacks, and any setting that is malformed."""
        needed = {"SLACK_BOT_TOKEN": self.bot_token}
        if socket_mode:
            needed["SLACK_APP_TOKEN"] = self.app_token
        else:
            needed["SLACK_SIGNING_SECRET"] = self.signing_secret
        missing = [name for name, value in needed.items() if not value]
        mode = "Socket Mode (--socket)" if socket_mode else "HTTP mode"
        if missing:
            raise ConfigError(
                f"rag slack in {mode} needs {', '.join(needed)}; missing: {', '.join(missing)} "
                "(see README, 'Slack bot', for where each comes from)"
            )
        if socket_mode and not str(self.app_token).startswith("xapp-"):
            raise ConfigError("SLACK_APP_TOKEN must be an app-level token (it starts with xapp-)")
        if not urlparse(self.api_base_url).scheme.startswith("http"):
            raise ConfigError(
                f"SLACK_API_BASE_URL must be an http(s) URL, not {redact_url(self.api_base_url)!r}"
            )
        if self.command_response not in COMMAND_RESPONSES:
            raise ConfigError(
                f"SLACK_COMMAND_RESPONSE must be in_channel or ephemeral, "
                f"not {self.command_response!r}"
            )
        if not self.command.startswith("/"):
            raise ConfigError(f"SLACK_COMMAND must start with /, not {self.command!r}")


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with the defaults a fresh clone runs with."""

    index_dir: Path = Path("index")
    corpus_dir: Path = Path("corpus")
    answerer: str = DEFAULT_ANSWERER
    # What the web page falls back to when the answerer is unavailable.
    fallbacks: tuple[str, ...] = (DEFAULT_ANSWERER,)
    port: int = 7860
    web_auth: str | None = None  # "user:password" for a shared chat page (RAG_WEB_AUTH)
    # Sessions the chat page keeps in memory, least recently used dropped first (Gradio's
    # state_session_capacity; its default, 10,000, let the server grow ~90 KB per API call
    # with no session, linearly, in a 10-minute `rag bench load` soak). Such one-shot calls
    # are now freed once answered (rag/apps/sessions.py); this bounds readers' tabs and
    # gradio_client sessions. A dropped session only loses its follow-up context and its
    # last answer's 👍/👎.
    web_sessions: int = 500
    llm: LLMSettings = field(default_factory=lambda: LLMSettings.from_env({}))
    extractive: ExtractiveSettings = field(default_factory=ExtractiveSettings)
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)
    store_kind: str = "faiss_bm25"  # a name in rag/stores/registry.py
    store: StoreSettings = field(default_factory=StoreSettings)
    slack: SlackSettings = field(default_factory=SlackSettings)
    limits: InputLimits = field(default_factory=InputLimits)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    # The page's "Add from URL" may reach loopback, private and link-local addresses
    # (RAG_ALLOW_PRIVATE=1: an intranet, or the tests' loopback server); off, it refuses them.
    allow_private_urls: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """RAG_INDEX, RAG_CORPUS, RAG_STORE, MILVUS_TOKEN, RAG_LLM, RAG_LLM_FALLBACK (comma-separated), PORT,
        RAG_WEB_AUTH, RAG_ALLOW_PRIVATE, the RAG_LLM_* / OPENAI_* variables of `LLMSettings` and the SLACK_*
        variables of `SlackSettings`."""
        env = os.environ if env is None else env
        port = env.get("PORT") or "7860"
        if not port.isdigit():
            raise ConfigError(f"PORT must be a port number, not {port!r}")
        fallbacks = env.get("RAG_LLM_FALLBACK", DEFAULT_ANSWERER)
        return cls(
            index_dir=Path(env.get("RAG_INDEX") or "index"),
            corpus_dir=Path(env.get("RAG_CORPUS") or "corpus"),
            store_kind=(env.get("RAG_STORE") or "faiss_bm25").strip(),
            store=StoreSettings(milvus_token=env.get("MILVUS_TOKEN", "")),
            answerer=(env.get("RAG_LLM") or DEFAULT_ANSWERER).strip(),
            fallbacks=tuple(n.strip() for n in fallbacks.split(",") if n.strip()),
            port=int(port),
            web_auth=env.get("RAG_WEB_AUTH") or None,
            llm=LLMSettings.from_env(env),
            slack=SlackSettings.from_env(env),
            allow_private_urls=env.get("RAG_ALLOW_PRIVATE", "").strip() in ("1", "true", "yes"),
        )


def user_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """Per-user cache folder (CC-CEDICT, XQuAD indexes), honouring XDG_CACHE_HOME."""
    env = os.environ if env is None else env
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rag-news"


def freedict_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where Debian's FreeDict dictionaries are (RAG_FREEDICT_DIR overrides)."""
    env = os.environ if env is None else env
    return Path(env.get("RAG_FREEDICT_DIR") or "/usr/share/dictd")


def apply_offline_defaults() -> None:
    """Keep third-party libraries off the network: every model we use ships in a package.

    Set before the first transformers import; the user's own settings win.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def child_environment(extra: Mapping[str, str], drop: tuple[str, ...] = ()) -> dict[str, str]:
    """This process's environment for a child process (a server a benchmark starts), with
    `extra` set and variables starting with any of `drop` left out."""
    env = {k: v for k, v in os.environ.items() if not (drop and k.startswith(drop))}
    env.update(extra)
    return env


@contextmanager
def tiktoken_cache(folder: Path) -> Iterator[None]:
    """Point tiktoken's documented TIKTOKEN_CACHE_DIR at `folder` while an encoding loads,
    unless the user set their own."""
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        yield
        return
    os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)
    try:
        yield
    finally:
        del os.environ["TIKTOKEN_CACHE_DIR"]
