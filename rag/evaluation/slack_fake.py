"""A stand-in for Slack's servers, for the test suite and `rag bench load`: a small Web API
(`FakeSlack`, served by `serve`) that records every call the bot makes, and requests signed as
Slack signs them (`send`, `envelope`, `mention`, `direct_message`).

Nothing here talks to Slack. Point the bot's `SLACK_API_BASE_URL` at `FakeSlack.base_url` and
post signed events to its `/slack/events`; the fake answers chat.postMessage, chat.update,
chat.postEphemeral, auth.test and apps.connections.open as Slack does (as far as the bot uses
them), and can be told to fail, hold or refuse calls.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # the signing secret the bot is started with
BOT_USER = "UBOT0001"
WAIT_S = 120.0

Scripted = tuple[int, dict[str, Any], dict[str, str]]  # status, JSON body, headers
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy


@dataclass
class Call:
    """One Web API call the bot made, as received (`at`: time.monotonic() on arrival)."""

    method: str
    params: dict[str, Any]
    token: str
    response: dict[str, Any]
    at: float = 0.0


@dataclass
class FakeSlack:
    """Slack's Web API as far as the bot uses it; records every call.

    `keep_log=False` keeps calls only per channel (see `forget`), so a long load run does not
    grow without bound."""

    port: int
    calls: list[Call] = field(default_factory=list)
    fail_next: dict[str, list[Scripted]] = field(default_factory=dict)
    closed_channels: set[str] = field(default_factory=set)
    max_blocks: int | None = None  # more blocks than this: msg_too_long
    hold: threading.Event | None = None  # chat.postMessage waits for it
    ws_url: str = ""
    keep_log: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)
    _by_channel: dict[str, list[Call]] = field(default_factory=dict)
    _arrived: threading.Condition = field(default_factory=threading.Condition)
    _received: int = 0  # calls so far, under _arrived: a waiter misses none
    _ts: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def next_ts(self) -> str:
        with self.lock:
            self._ts += 1
            return f"1700000000.{self._ts:06d}"

    def record(self, call: Call) -> None:
        with self.lock:
            if self.keep_log:
                self.calls.append(call)
            channel = call.params.get("channel")
            if isinstance(channel, str):
                self._by_channel.setdefault(channel, []).append(call)
        with self._arrived:
            self._received += 1
            self._arrived.notify_all()

    def in_channel(self, channel: str, method: str | None = None) -> list[Call]:
        with self.lock:
            calls = list(self._by_channel.get(channel, ()))
        return [c for c in calls if method is None or c.method == method]

    def forget(self, channel: str) -> None:
        """Drop what a channel received (a load run measures each question once)."""
        with self.lock:
            self._by_channel.pop(channel, None)

    def wait_for(self, check: Callable[[], Any], what: str, timeout_s: float = WAIT_S) -> Any:
        """`check()`'s first truthy result, re-checked as each call arrives."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self._arrived:
                received = self._received
            result = check()
            if result:
                return result
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}; calls: {self.calls}")
            with self._arrived:
                if self._received == received:
                    self._arrived.wait(min(left, 0.05))  # also for checks no call wakes

    def answer(self, method: str, params: dict[str, Any]) -> Scripted:
        scripted = self.fail_next.get(method)
        if scripted:
            return scripted.pop(0)
        channel = params.get("channel")
        if method == "auth.test":
            return 200, {"ok": True, "user_id": BOT_USER, "bot_id": "BBOT0001", "team_id": "T1",
                         "user": "newsqa", "team": "Newsroom", "url": "https://newsroom.slack.com/"}, {}  # fmt: skip
        if method == "apps.connections.open":
            return 200, {"ok": True, "url": self.ws_url}, {}
        if channel in self.closed_channels:
            return 200, {"ok": False, "error": "not_in_channel"}, {}
        blocks = params.get("blocks")
        if (
            self.max_blocks is not None
            and isinstance(blocks, list)
            and len(blocks) > self.max_blocks
        ):
            return 200, {"ok": False, "error": "msg_too_long"}, {}
        if method == "chat.postMessage":
            if self.hold is not None:
                self.hold.wait(WAIT_S)
            return 200, {"ok": True, "channel": channel, "ts": self.next_ts()}, {}
        if method == "chat.update":
            return 200, {"ok": True, "channel": channel, "ts": params.get("ts")}, {}
        if method == "chat.postEphemeral":
            return 200, {"ok": True, "message_ts": self.next_ts()}, {}
        return 200, {"ok": False, "error": "unknown_method"}, {}


def _handler(fake: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            arrived = time.monotonic()
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            if "json" in (self.headers.get("Content-Type") or ""):
                params = json.loads(raw or "{}")
            else:
                params = {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}
            for key in ("blocks", "attachments"):  # form-encoded JSON fields
                if isinstance(params.get(key), str):
                    params[key] = json.loads(params[key])
            method = self.path.rsplit("/", 1)[-1]
            if self.path.startswith("/response/"):
                method = "response_url"
            token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
            status, body, headers = fake.answer(method, params)
            fake.record(Call(method, params, token, body, arrived))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def serve(fake: FakeSlack) -> Iterator[FakeSlack]:
    """`fake` listening on 127.0.0.1:`fake.port` until the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", fake.port), _handler(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------ signed requests


def signature(body: bytes, timestamp: int, secret: str = SECRET) -> str:
    """Slack's v0 request signature: HMAC-SHA256 of `v0:<timestamp>:<body>`."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def send(url: str, body: bytes, content_type: str = "application/json", timestamp: int | None = None,
         secret: str = SECRET, headers: dict[str, str] | None = None) -> tuple[int, str]:  # fmt: skip
    """POST `body` as Slack would: signed with the app's signing secret."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": signature(body, timestamp, secret),
        **(headers or {}),
    })  # fmt: skip
    try:
        with _DIRECT.open(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def envelope(event: dict[str, Any], event_id: str | None = None) -> bytes:
    """An Events API delivery of `event`, as Slack wraps it."""
    return json.dumps({
        "token": "legacy", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
        "event": event, "event_id": event_id or f"Ev{uuid.uuid4().hex[:10]}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": "T1", "user_id": BOT_USER, "is_bot": True}],
    }).encode()  # fmt: skip


def new_ts() -> str:
    """A message timestamp no other message has."""
    return f"{int(time.time())}.{uuid.uuid4().int % 1_000_000:06d}"


def new_channel() -> str:
    return f"C{uuid.uuid4().hex[:9].upper()}"


def mention(channel: str, text: str, ts: str | None = None) -> dict[str, Any]:
    return {"type": "app_mention", "user": "UASKER01", "text": f"<@{BOT_USER}> {text}",
            "ts": ts or new_ts(), "channel": channel, "event_ts": ts}  # fmt: skip


def direct_message(channel: str, text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "message", "channel_type": "im", "user": "UASKER01", "text": text,
            "ts": new_ts(), "channel": channel, **extra}  # fmt: skip


def final_reply(fake: FakeSlack, channel: str, timeout_s: float = WAIT_S) -> Call:
    """The chat.update that turned the placeholder into an answer (it has the buttons)."""

    def answered() -> Call | None:
        for call in fake.in_channel(channel, "chat.update"):
            blocks = call.params.get("blocks") or []
            if any(b.get("type") == "actions" for b in blocks):
                return call
        return None

    return fake.wait_for(answered, f"an answer in {channel}", timeout_s)


def shown_text(blocks: list[dict[str, Any]]) -> str:
    """The mrkdwn a reader sees in `blocks` (sections and context elements)."""
    texts = []
    for block in blocks:
        if "text" in block:
            texts.append(block["text"]["text"])
        texts += [
            e.get("text", "") for e in block.get("elements", []) if isinstance(e.get("text"), str)
        ]
    return "\n".join(texts)
