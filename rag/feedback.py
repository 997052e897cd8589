"""Readers' 👍 / 👎 on answers, kept in a SQLite file beside the index, and exported as draft
eval items for a reviewer.

The chat page calls `FeedbackStore(feedback_path(index_dir)).record(question, answer.to_dict(),
"up" | "down", comment)`; `rag feedback export` turns what was recorded into lines in the
format of `eval/figures.jsonl` (see `export_eval_items`). Nothing here knows about the page.

Writers may be many threads of one page (or several processes): every call opens its own
connection, the file runs in WAL mode with a busy timeout, and writes in this process are also
serialised by a lock. SQLite still answers "database is locked" at once, without waiting, in two
places: while another connection switches a new file to WAL, and when a deferred transaction
would have to upgrade a stale read. So each write takes the write lock up front
(`BEGIN IMMEDIATE`, which does wait), and a write that is told "locked" anyway is retried until
the busy timeout; concurrent `record` calls neither fail nor lose a row.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from rag.errors import InputError

FEEDBACK_FILE = "feedback.sqlite"
VERDICTS = ("up", "down")
MAX_COMMENT_CHARS = 4000
BUSY_TIMEOUT_S = 30.0
RETRY_PAUSE_S = 0.02

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    question TEXT NOT NULL,
    answer_json TEXT NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('up', 'down')),
    comment TEXT NOT NULL DEFAULT '',
    answerer TEXT NOT NULL DEFAULT '',
    question_lang TEXT NOT NULL DEFAULT ''
)
"""


def feedback_path(index_dir: Path) -> Path:
    """Where the feedback on answers from the index at `index_dir` is kept: beside its versions
    (a new index version does not touch it; deleting the folder deletes it)."""
    return Path(index_dir) / FEEDBACK_FILE


@dataclass(frozen=True)
class FeedbackRecord:
    id: int
    created_at: str  # UTC, ISO 8601
    question: str
    answer: dict[str, Any]  # the answer as `Answer.to_dict()` gave it
    verdict: str  # "up" | "down"
    comment: str
    answerer: str
    question_lang: str


class FeedbackStore:
    """The feedback table in the SQLite file at `path` (created on the first `record`)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def _insert(self, row: tuple[str, ...]) -> int:
        """Insert one row in its own write transaction; returns its id. The write lock is taken
        before anything is read (`BEGIN IMMEDIATE` waits for it up to the busy timeout)."""
        with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)) as conn:
            conn.isolation_level = None  # transactions are begun by hand below
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(_SCHEMA)
                cursor = conn.execute(
                    "INSERT INTO feedback (created_at, question, answer_json, verdict, comment, "
                    "answerer, question_lang) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return int(cursor.lastrowid or 0)

    def _retry_while_locked(self, operation: Callable[[], T]) -> T:
        """`operation()`, tried again while SQLite says the file is locked (see the module's
        docstring for when it says so without waiting), up to the busy timeout. Any other
        database error, or a lock that outlasts the timeout, is one line naming the file."""
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                return operation()
            except sqlite3.OperationalError as err:
                if "locked" not in str(err) or time.monotonic() > deadline:
                    raise InputError(f"cannot use the feedback file {self.path}: {err}") from None
            except sqlite3.DatabaseError as err:
                raise InputError(f"cannot use the feedback file {self.path}: {err}") from None
            time.sleep(RETRY_PAUSE_S)

    def record(self, question: str, answer: dict[str, Any], verdict: str, comment: str = "") -> int:
        """Keep one reader's verdict on one answer; returns the new row's id."""
        verdict = verdict.strip().lower() if isinstance(verdict, str) else verdict
        if verdict not in VERDICTS:
            raise InputError(f"feedback verdict must be 'up' or 'down', not {verdict!r}")
        question = " ".join(str(question).split())
        if not question:
            raise InputError("feedback needs the question the answer was for")
        if not isinstance(answer, dict):
            raise InputError("feedback needs the answer as Answer.to_dict() gives it")
        comment = (comment or "").strip()
        if len(comment) > MAX_COMMENT_CHARS:
            raise InputError(
                f"the comment is {len(comment)} characters long; keep it under {MAX_COMMENT_CHARS}"
            )
        try:
            answer_json = json.dumps(answer, ensure_ascii=False)
        except (TypeError, ValueError) as err:
            raise InputError(f"the answer cannot be stored as JSON: {err}") from None
        row = (
            datetime.now(UTC).isoformat(timespec="seconds"),
            question,
            answer_json,
            verdict,
            comment,
            str(answer.get("answerer") or ""),
            str(answer.get("question_lang") or ""),
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            return self._retry_while_locked(lambda: self._insert(row))

    def all(self) -> list[FeedbackRecord]:
        """Every verdict, oldest first; none (and no file created) before the first one."""
        if not self.path.exists():
            return []
        rows = self._retry_while_locked(self._select_all)
        return [
            FeedbackRecord(i, created, q, json.loads(answer), verdict, comment, answerer, lang)
            for i, created, q, answer, verdict, comment, answerer, lang in rows
        ]

    def _select_all(self) -> list[tuple[Any, ...]]:
        with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)) as conn:
            conn.execute(_SCHEMA)
            return conn.execute(
                "SELECT id, created_at, question, answer_json, verdict, comment, answerer, "
                "question_lang FROM feedback ORDER BY id"
            ).fetchall()


def export_eval_items(records: Sequence[FeedbackRecord]) -> list[dict[str, Any]]:
    """Each verdict as a DRAFT item in the eval set's format (eval/README.md), for a reviewer
    to finish by hand before it joins `eval/figures.jsonl`. Drafts are not ground truth: a
    reader's 👍 is not a checked figure, so they are never to be fitted on, nor scored as they
    stand.

    What can be known is filled in; the rest is the reviewer's:

    - `id` `fb-<row id>`, `lang` the detected question language, `q` the question;
    - `sources`: the articles the answer cited, in citation order (for a 👎, possibly the
      wrong ones: the reviewer checks them);
    - `figures`: for a 👍 on an answer, the figures the answer gave that were verified against
      their cited passage (`text`, `value`, `unit`, and `high` for a range); for a 👎, none:
      the reviewer writes the right ones;
    - `answerable`: a 👍 on an abstention says the articles hold no answer → `false` (with a
      `why`); anything else → `true`: a 👍 answer was answered, and a 👎 (on an answer or an
      abstention) most likely means the reader expected an answer. Such a 👎 draft has no
      figures, so `load_eval_set` refuses it until the reviewer fills them in (or turns it
      into an unanswerable item): an unfinished draft cannot slip into a run;
    - `match` `any`; `tags` `["feedback", "up" | "down"]`; `feedback`: the verdict, comment,
      time, answerer and the answer text, for the reviewer.
    """
    items = []
    for record in records:
        answer = record.answer
        abstained = bool(answer.get("abstained"))
        liked = record.verdict == "up"
        item: dict[str, Any] = {
            "id": f"fb-{record.id}",
            "lang": record.question_lang or str(answer.get("question_lang") or ""),
            "q": record.question,
            "answerable": not (liked and abstained),
            "sources": _cited_doc_ids(answer),
            "figures": _given_figures(answer) if liked and not abstained else [],
            "match": "any",
            "tags": ["feedback", record.verdict],
        }
        if not item["answerable"]:
            item["why"] = "feedback: a reader agreed that the articles do not answer it"
        item["feedback"] = {
            "verdict": record.verdict,
            "comment": record.comment,
            "created_at": record.created_at,
            "answerer": record.answerer,
            "abstained": abstained,
            "answer": str(answer.get("answer") or ""),
        }
        items.append(item)
    return items


def _cited_doc_ids(answer: dict[str, Any]) -> list[str]:
    cited: dict[str, None] = {}
    for citation in answer.get("citations") or []:
        if isinstance(citation, dict) and citation.get("doc_id"):
            cited[str(citation["doc_id"])] = None
    return list(cited)


def _given_figures(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The answer's verified figures in the eval set's shape, each value once."""
    figures: dict[tuple[Any, ...], dict[str, Any]] = {}
    for check in answer.get("figures") or []:
        if not isinstance(check, dict) or not check.get("supported"):
            continue
        figure = {"text": check.get("text"), "value": check.get("value"), "unit": check.get("unit")}
        if check.get("high") is not None:
            figure["high"] = check["high"]
        figures.setdefault((figure["value"], figure["unit"], check.get("high")), figure)
    return list(figures.values())
