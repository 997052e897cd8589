"""Secrets and access: API keys, Slack tokens and passwords never reach a log, an error or the
page; the page binds to loopback and its password guards its API too; the Slack endpoint
refuses unsigned requests.

Every secret below is set in the environment of each run, then every byte a user or a log
could see is searched for it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from rag.apps import web
from rag.config import Settings
from rag.evaluation.load import Server
from tests.conftest import REPO, free_port

LLM_KEY = "sk-test-SECRET123llmkey"
BOT_TOKEN = "xoxb-SECRET-bot-456"
SIGNING_SECRET = "SECRETsigning789"
APP_TOKEN = "xapp-SECRET-app-012"
URL_PASSWORD = "SECRETurlpass"  # in a base URL's user:password part
WEB_PASSWORD = "SECRETwebpass"
SECRETS = (LLM_KEY, BOT_TOKEN, SIGNING_SECRET, APP_TOKEN, URL_PASSWORD, WEB_PASSWORD, "SECRET")
WAIT_S = 120.0


def secret_env(**extra: str) -> dict[str, str]:
    """This process's environment (the test's index folders) plus every secret."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(
        RAG_LLM_API_KEY=LLM_KEY, OPENAI_API_KEY=LLM_KEY, SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_APP_TOKEN=APP_TOKEN,
        RAG_WEB_AUTH=f"ana:{WEB_PASSWORD}", NO_PROXY="127.0.0.1,localhost",
        PYTHONPATH=str(REPO), **extra,
    )  # fmt: skip
    return env


def assert_no_secret(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked into {where}:\n{text}"


def run_cli(
    *args: str, env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rag.apps.cli", *args], capture_output=True, text=True,
        cwd=REPO, env=env, timeout=timeout,
    )  # fmt: skip


# ------------------------------------------------------------------ fakes on loopback


class FakeServer:
    """A loopback HTTP server answering every POST with `reply(path)`; records each request's
    path and Authorization header."""

    def __init__(self, reply: Any) -> None:
        self.requests: list[tuple[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake.requests.append((self.path, self.headers.get("Authorization") or ""))
                status, body = reply(self.path, self.headers.get("Authorization") or "")
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def echoing_llm() -> Iterator[FakeServer]:
    """An OpenAI-compatible server that refuses every request and quotes the key it was sent,
    as some proxies do."""

    def reply(path: str, auth: str) -> tuple[int, dict[str, Any]]:
        return 400, {"error": {"message": f"bad request with {auth}", "type": "invalid"}}

    server = FakeServer(reply)
    yield server
    server.close()


# ------------------------------------------------------------------ (a) failing CLI runs


def test_failing_cli_runs_never_print_a_secret(seed_index: Path, echoing_llm: FakeServer) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    index = ["--index", str(seed_index)]
    q = "How much HBM3E memory does the H200 have?"
    runs = {
        "LLM unreachable": (["ask", q, *index, "--llm", "openai"],
                            {"RAG_LLM_BASE_URL": f"{closed}/v1"}),
        "LLM URL with a password, unreachable": (
            ["ask", q, *index, "--llm", "openai"],
            {"RAG_LLM_BASE_URL": f"http://ana:{URL_PASSWORD}@127.0.0.1:{free_port()}/v1"}),
        "LLM server quoting the key": (["ask", q, *index, "--llm", "openai"],
                                       {"RAG_LLM_BASE_URL": f"{echoing_llm.url}/v1"}),
        "bad flag": (["ask", "--no-such-flag", q], {}),
        "Slack unreachable": (["slack", *index, "--port", str(free_port())],
                              {"SLACK_API_BASE_URL": f"{closed}/api/"}),
        "Slack URL with a password": (
            ["slack", *index, "--port", str(free_port())],
            {"SLACK_API_BASE_URL": f"http://ana:{URL_PASSWORD}@127.0.0.1:{free_port()}/api/"}),
    }  # fmt: skip
    for what, (args, extra) in runs.items():
        out = run_cli(*args, env=secret_env(RAG_LLM_RETRIES="0", **extra))
        assert out.returncode in (1, 2), (what, out.returncode, out.stdout, out.stderr)
        assert "Traceback" not in out.stderr, (what, out.stderr)
        assert_no_secret(out.stdout + out.stderr, what)
    assert echoing_llm.requests and echoing_llm.requests[0][1] == f"Bearer {LLM_KEY}"


# ------------------------------------------------------------------ (b) the page


@pytest.fixture
def secret_settings(monkeypatch: pytest.MonkeyPatch, seed_index: Path) -> Settings:
    for name, value in secret_env(
        RAG_LLM_BASE_URL=f"http://ana:{URL_PASSWORD}@127.0.0.1:{free_port()}/v1",
        SLACK_API_BASE_URL=f"http://ana:{URL_PASSWORD}@127.0.0.1:{free_port()}/api/",
        RAG_INDEX=str(seed_index),
    ).items():
        monkeypatch.setenv(name, value)
    return Settings.from_env()


def _get(url: str, auth: tuple[str, str] | None = None) -> str:
    request = urllib.request.Request(url)
    if auth:
        import base64

        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=60) as response:
        return str(response.read().decode())


def test_the_page_shows_no_secret(secret_settings: Settings, seed_index: Path) -> None:
    """The page's HTML, its config (which lists every component, the answerer menu with
    where the LLM runs included) and its API description."""
    app = web.create_app(web.ChatBackend(seed_index, settings=secret_settings))
    port = free_port()
    web.launch(app, "127.0.0.1", port, prevent_thread_lock=True, quiet=True)
    try:
        base = f"http://127.0.0.1:{port}"
        config = _get(f"{base}/config")
        assert "LLM: gpt-4o-mini at" in config  # the menu is there, without its password
        for path in ("/", "/config", "/gradio_api/info"):
            assert_no_secret(_get(base + path), path)
    finally:
        app.close()


def test_the_page_binds_to_loopback_unless_told(
    monkeypatch: pytest.MonkeyPatch, seed_index: Path
) -> None:
    launched: dict[str, Any] = {}
    monkeypatch.setattr(web, "create_app", lambda backend: "app")
    monkeypatch.setattr(web, "launch", lambda app, host, port, auth=None, **kw: launched.update(
        host=host, port=port, auth=auth, **kw))  # fmt: skip
    web.main(["--index", str(seed_index), "--port", "7999"])
    # and with the session cap that keeps a long-running page's memory flat
    assert launched == {"host": "127.0.0.1", "port": 7999, "auth": None,
                        "state_session_capacity": Settings().web_sessions}  # fmt: skip
    web.main(["--index", str(seed_index), "--host", "0.0.0.0", "--auth", "ana:pw"])
    assert launched["host"] == "0.0.0.0" and launched["auth"] == ("ana", "pw")


def test_basic_auth_guards_the_api_too(seed_index: Path) -> None:
    """Not only the page: /ask through gradio_client, and the raw API routes, need the
    password; with it, /ask answers."""
    from gradio_client import Client

    app = web.create_app(web.ChatBackend(seed_index, settings=Settings(index_dir=seed_index)))
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    web.launch(app, "127.0.0.1", port, ("ana", WEB_PASSWORD), prevent_thread_lock=True,
               quiet=True)  # fmt: skip
    question = "How much HBM3E memory does the H200 have?"
    try:
        for path, data in (
            ("config", None),
            ("gradio_api/info", None),
            ("gradio_api/call/ask", b'{"data": ["' + question.encode() + b'"]}'),
        ):
            request = urllib.request.Request(
                url + path, data=data, headers={"Content-Type": "application/json"}
            )
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=60)
            assert refused.value.code in (401, 403), path
        with pytest.raises(Exception):  # noqa: B017 (gradio_client raises its own types)
            Client(url, verbose=False).predict(question, "", 0, api_name="/ask")
        with pytest.raises(Exception):  # noqa: B017
            Client(url, auth=("ana", "wrong"), verbose=False)
        answer = Client(url, auth=("ana", WEB_PASSWORD), verbose=False).predict(
            question, "", 0, api_name="/ask"
        )
        assert answer["citations"] and "141" in answer["answer"]
    finally:
        app.close()


# ------------------------------------------------------------------ (c) Slack


@pytest.fixture
def slack_api() -> Iterator[tuple[FakeServer, dict[str, Any]]]:
    """Slack's Web API; `state["auth"]` is what auth.test answers."""
    state: dict[str, Any] = {"auth": {"ok": False, "error": "invalid_auth"}}

    def reply(path: str, auth: str) -> tuple[int, dict[str, Any]]:
        if path.endswith("auth.test"):
            return 200, state["auth"]
        return 200, {"ok": True, "channel": "C1", "ts": "1700000000.000001"}

    server = FakeServer(reply)
    yield server, state
    server.close()


def test_a_refused_slack_token_is_not_logged(
    seed_index: Path, slack_api: tuple[FakeServer, dict[str, Any]]
) -> None:
    server, _ = slack_api
    for mode in ([], ["--socket"]):
        out = run_cli("slack", "--index", str(seed_index), "--port", str(free_port()), *mode,
                      env=secret_env(SLACK_API_BASE_URL=f"{server.url}/api/"))  # fmt: skip
        assert out.returncode == 1, (out.stdout, out.stderr)
        assert "invalid_auth" in out.stderr
        assert_no_secret(out.stdout + out.stderr, f"rag slack {mode}")
    assert server.requests and server.requests[0][1] == f"Bearer {BOT_TOKEN}"


def test_unsigned_requests_are_refused(
    seed_index: Path, slack_api: tuple[FakeServer, dict[str, Any]], tmp_path: Path
) -> None:
    """No signature headers at all: 401, and nothing is posted to Slack."""
    server, state = slack_api
    state["auth"] = {"ok": True, "user_id": "UBOT", "bot_id": "BBOT", "team_id": "T1"}
    port = free_port()
    log = tmp_path / "bot.log"
    argv = [sys.executable, "-m", "rag.apps.cli", "slack", "--index", str(seed_index),
            "--port", str(port)]  # fmt: skip
    bot = Server("slack", argv, secret_env(SLACK_API_BASE_URL=f"{server.url}/api/"), log, REPO)
    try:
        bot.wait_ready(f"http://127.0.0.1:{port}/healthz", WAIT_S)
        event = {"type": "event_callback", "event_id": "Ev1", "team_id": "T1",
                 "event": {"type": "app_mention", "user": "U1", "channel": "C1",
                           "text": "<@UBOT> How much memory does the H200 have?",
                           "ts": "1700000000.000100"}}  # fmt: skip
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/slack/events", data=json.dumps(event).encode(),
            headers={"Content-Type": "application/json"}, method="POST",
        )  # fmt: skip
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == 401
        time.sleep(2)  # an answer, were one started, would be posted by now
        assert [p for p, _ in server.requests if not p.endswith("auth.test")] == []
    finally:
        bot.stop()
    assert_no_secret(log.read_text(), "the bot's log")
