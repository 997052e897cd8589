"""The Slack bot, end to end on loopback: `rag slack` runs as its own process, Slack's side is a
small fake Web API (and, for Socket Mode, a websocket server) started here, and every request
to the bot is signed as Slack signs it. No Slack server is involved."""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from rag.apps import slack_blocks as sb
from rag.evaluation.load import Server
from rag.evaluation.slack_fake import (
    BOT_USER,
    SECRET,
    WAIT_S,
    Call,
    FakeSlack,
    direct_message,
    envelope,
    final_reply,
    mention,
    new_channel,
    send,
    serve,
    shown_text,
)
from rag.feedback import FeedbackStore, feedback_path
from rag.ingest import corpus
from rag.stores import faiss_bm25 as store
from tests.conftest import REPO, free_port, write_article

pytest.importorskip("slack_bolt")

# An article whose text tries to ping a whole channel, a user and a user group.
HOSTILE = (
    "Kestrel Robotics ordered exactly 4,321 H200 accelerators <!channel> <!here> <@U0PINGME> "
    "<!subteam^S0TEAM|@editors> for its Reykjavik data centre, a spokesman said on Monday.\n\n"
    "The company @channel did not say when the chips would arrive."
)
HOSTILE_QUESTION = "How many H200 accelerators did Kestrel Robotics order?"
CROSS_QUESTION = "Wie viele Nvidia-Chips wollen Alibaba und ByteDance bestellen?"  # English source


# ------------------------------------------------------------------ Slack's side, faked


@pytest.fixture(scope="module")
def fake_slack() -> Iterator[FakeSlack]:
    with serve(FakeSlack(free_port())) as fake:
        yield fake


# ------------------------------------------------------------------ the bot, as its own process


@pytest.fixture(scope="module")
def slack_index(seed_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed articles plus one whose text tries to ping everyone."""
    index_dir = tmp_path_factory.mktemp("slack") / "index"
    shutil.copytree(seed_index, index_dir)
    folder = tmp_path_factory.mktemp("hostile")
    write_article(folder, "hostile.txt", HOSTILE, title="Kestrel <!channel> orders <@U0PINGME> chips",
                  outlet="Wire <!here>", date="2025-12-20", lang="en")  # fmt: skip
    store.ingest(index_dir, corpus.load_articles([folder]), progress=False)
    return index_dir


def _bot_env(fake: FakeSlack, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.lower().endswith("_proxy") and not k.startswith(("SLACK_", "RAG_LLM"))}  # fmt: skip
    env.update(
        SLACK_BOT_TOKEN="xoxb-test-token",
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_BASE_URL=fake.base_url,
        NO_PROXY="127.0.0.1,localhost",
        PYTHONPATH=str(REPO),
        **extra,
    )
    return env


class BotProcess(Server):
    """`rag slack` in its own process; stopped (and its log kept for failures) on exit."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        argv = [sys.executable, "-m", "rag.apps.cli", "slack", *args]
        super().__init__("slack", argv, env, log, cwd=REPO)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_until(self, ready: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"rag slack exited ({self.proc.returncode}):\n{self.output()}")
            if ready():
                return
            time.sleep(0.1)
        raise AssertionError(f"rag slack was not {what} in time:\n{self.output()}")


@pytest.fixture(scope="module")
def bot(
    fake_slack: FakeSlack, slack_index: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`rag slack` in HTTP mode on a free loopback port; yields its events URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("bot") / "bot.log"
    process = BotProcess(
        ["--index", str(slack_index), "--port", str(port)], _bot_env(fake_slack), log
    )
    try:
        process.wait_ready(f"http://127.0.0.1:{port}/healthz", WAIT_S)
        yield f"http://127.0.0.1:{port}/slack/events"
    finally:
        process.stop()


# ------------------------------------------------------------------ HTTP mode


def test_url_verification_challenge_is_echoed(bot: str) -> None:
    body = json.dumps(
        {"token": "legacy", "challenge": "3eZbrw1aBm2rZgRNFdxV", "type": "url_verification"}
    )
    status, text = send(bot, body.encode())
    assert status == 200 and "3eZbrw1aBm2rZgRNFdxV" in text


def test_bad_or_stale_signatures_get_401_and_no_reply(bot: str, fake_slack: FakeSlack) -> None:
    channel = new_channel()
    body = envelope(mention(channel, HOSTILE_QUESTION))
    assert send(bot, body, secret="not-the-secret")[0] == 401
    assert send(bot, body, timestamp=int(time.time()) - 6 * 60)[0] == 401
    # the same event, correctly signed, is answered: the refusals were the signatures
    assert send(bot, body)[0] == 200
    final_reply(fake_slack, channel)
    assert len(fake_slack.in_channel(channel, "chat.postMessage")) == 1


def test_mention_gets_a_threaded_cited_answer_across_languages(
    bot: str, fake_slack: FakeSlack
) -> None:
    channel = new_channel()
    event = mention(channel, CROSS_QUESTION)
    assert send(bot, envelope(event))[0] == 200
    reply = final_reply(fake_slack, channel)
    placeholder = fake_slack.in_channel(channel, "chat.postMessage")[0]
    assert placeholder.params["thread_ts"] == event["ts"]
    assert placeholder.params["unfurl_links"] is False
    assert placeholder.params["text"].startswith("⏳")
    assert reply.token == "xoxb-test-token"
    blocks = reply.params["blocks"]
    text = shown_text(blocks)
    assert blocks[0]["type"] == "section" and blocks[0]["text"]["text"].startswith(
        "Antwort: 200,000 [1]."
    )
    sources = [
        b for b in blocks if b["type"] == "context" and b["elements"][0]["text"].startswith("*[1]")
    ]
    assert sources, text
    assert " · en\n>" in sources[0]["elements"][0]["text"]  # an English article answers it
    assert "[1]" in reply.params["text"]
    assert all(len(b["text"]["text"]) <= sb.SECTION_CHARS for b in blocks if b["type"] == "section")
    artifacts = Path(os.environ.get("RAG_TEST_ARTIFACTS") or REPO / "test-artifacts")
    artifacts.mkdir(parents=True, exist_ok=True)
    (artifacts / "slack-cross-lingual-reply.json").write_text(
        json.dumps(
            {"question": CROSS_QUESTION, "chat.update": reply.params}, ensure_ascii=False, indent=2
        )
    )


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("H200 芯片有多少 HBM3E 内存？", "答：141GB [1]"),
        ("Wie viel HBM3E-Speicher hat der H200?", "Antwort: 141GB [1]"),
        ("¿Cuánta memoria HBM3E tiene el H200?", "Respuesta: 141GB [1]"),
        # Tencent is named once (among Alibaba's cloud rivals); no article gives its order
        ("Wie viele H200-Chips hat Tencent bestellt?", None),
    ],
)
def test_the_issue_questions_get_the_default_answer_in_slack(
    bot: str, fake_slack: FakeSlack, question: str, expected: str | None
) -> None:
    """The default answerer, through the bot: the HBM3E question in three languages is
    answered from the English article, the Tencent one is declined; each reply is kept."""
    channel = new_channel()
    assert send(bot, envelope(mention(channel, question)))[0] == 200
    reply = final_reply(fake_slack, channel)
    first = reply.params["blocks"][0]["text"]["text"]
    if expected is None:
        assert "[1]" not in reply.params["text"], first
    else:
        assert first.startswith(expected), first
    artifacts = Path(os.environ.get("RAG_TEST_ARTIFACTS") or REPO / "test-artifacts")
    artifacts.mkdir(parents=True, exist_ok=True)
    with (artifacts / "slack-issue-questions.jsonl").open("a", encoding="utf-8") as out:
        out.write(json.dumps({"question": question, "reply": first}, ensure_ascii=False) + "\n")


def test_the_ack_does_not_wait_for_the_answer(bot: str, fake_slack: FakeSlack) -> None:
    channel = new_channel()
    fake_slack.hold = threading.Event()
    try:
        status, _ = send(bot, envelope(mention(channel, HOSTILE_QUESTION)))
        assert status == 200  # acknowledged while the bot cannot even post its placeholder
        assert not fake_slack.in_channel(channel, "chat.update")
    finally:
        fake_slack.hold.set()
        fake_slack.hold = None
    final_reply(fake_slack, channel)


def test_a_retried_or_duplicated_event_is_answered_once(bot: str, fake_slack: FakeSlack) -> None:
    channel = new_channel()
    body = envelope(mention(channel, HOSTILE_QUESTION), event_id="EvRETRY0001")
    assert send(bot, body)[0] == 200
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert send(bot, body, headers=retry)[0] == 200
    assert send(bot, body)[0] == 200
    final_reply(fake_slack, channel)
    assert len(fake_slack.in_channel(channel, "chat.postMessage")) == 1


def test_a_direct_message_is_answered_in_its_thread(bot: str, fake_slack: FakeSlack) -> None:
    channel = f"D{uuid.uuid4().hex[:9].upper()}"
    event = direct_message(channel, "Wie viele H200-Einheiten will Alibaba abnehmen?")
    assert send(bot, envelope(event))[0] == 200
    reply = final_reply(fake_slack, channel)
    assert fake_slack.in_channel(channel, "chat.postMessage")[0].params["thread_ts"] == event["ts"]
    assert reply.params["blocks"][0]["text"]["text"].startswith("Antwort:")


def test_other_bots_and_edits_are_ignored(bot: str, fake_slack: FakeSlack) -> None:
    channel = f"D{uuid.uuid4().hex[:9].upper()}"
    question = "How many H200 chips will Alibaba order?"
    for event in (
        direct_message(channel, question, bot_id="BOTHER01", subtype="bot_message"),
        direct_message(channel, question, bot_id="BOTHER02"),
        direct_message(channel, question, user=BOT_USER, bot_id="BBOT0001"),
        direct_message(channel, question, subtype="message_changed"),
    ):
        assert send(bot, envelope(event))[0] == 200
    person = direct_message(channel, question)
    assert send(bot, envelope(person))[0] == 200
    final_reply(fake_slack, channel)
    posts = fake_slack.in_channel(channel, "chat.postMessage")
    assert [p.params["thread_ts"] for p in posts] == [person["ts"]]


def test_slash_command_answers_in_the_channel(bot: str, fake_slack: FakeSlack) -> None:
    channel = new_channel()
    body = urllib.parse.urlencode({
        "command": "/news", "text": "¿Cuánto invertirá Alibaba en IA en tres años?",
        "channel_id": channel, "user_id": "UASKER01", "team_id": "T1",
        "response_url": f"http://127.0.0.1:{fake_slack.port}/response/1", "trigger_id": "1.2.3",
    }).encode()  # fmt: skip
    status, text = send(bot, body, "application/x-www-form-urlencoded")
    assert status == 200 and "⏳" in text  # acked with a note only the asker sees
    reply = final_reply(fake_slack, channel)
    parent, placeholder = fake_slack.in_channel(channel, "chat.postMessage")
    assert parent.params.get("thread_ts") is None and "<@UASKER01> asked:" in parent.params["text"]
    assert placeholder.params["thread_ts"] == parent.response["ts"]
    assert "[1]" in shown_text(reply.params["blocks"])


def test_slash_command_where_the_bot_may_not_post_answers_through_response_url(
    bot: str, fake_slack: FakeSlack
) -> None:
    channel = new_channel()
    fake_slack.closed_channels.add(channel)
    response_id = uuid.uuid4().hex
    body = urllib.parse.urlencode({
        "command": "/news", "text": "How many H200 chips will Alibaba order?", "channel_id": channel,
        "user_id": "UASKER01", "response_url": f"http://127.0.0.1:{fake_slack.port}/response/{response_id}",
    }).encode()  # fmt: skip
    assert send(bot, body, "application/x-www-form-urlencoded")[0] == 200

    def responded() -> Call | None:
        return next((c for c in list(fake_slack.calls) if c.method == "response_url"
                     and c.params.get("response_type") == "in_channel"), None)  # fmt: skip

    call = fake_slack.wait_for(responded, "an answer through response_url")
    assert "[1]" in shown_text(call.params["blocks"])


def test_article_text_cannot_ping_anyone(bot: str, fake_slack: FakeSlack) -> None:
    channel = new_channel()
    assert send(bot, envelope(mention(channel, HOSTILE_QUESTION)))[0] == 200
    reply = final_reply(fake_slack, channel)
    shown = shown_text(reply.params["blocks"])
    assert "4,321" in shown and "Kestrel" in shown  # the hostile article is the one cited
    everything = json.dumps([c.params for c in fake_slack.in_channel(channel)], ensure_ascii=False)
    for markup in ("<!channel>", "<!here>", "<@U0PINGME>", "<!subteam", "@channel"):
        assert markup not in everything
    assert "&lt;!channel&gt;" in shown  # shown as text, not as a broadcast


def test_a_thumbs_down_click_is_stored_with_the_answer(
    bot: str, fake_slack: FakeSlack, slack_index: Path
) -> None:
    channel = new_channel()
    assert send(bot, envelope(mention(channel, HOSTILE_QUESTION)))[0] == 200
    reply = final_reply(fake_slack, channel)
    buttons = next(b for b in reply.params["blocks"] if b["type"] == "actions")["elements"]
    down = next(e for e in buttons if e["action_id"] == sb.FEEDBACK_DOWN)
    payload = {
        "type": "block_actions", "team": {"id": "T1"}, "user": {"id": "UREADER1"},
        "api_app_id": "A1", "token": "legacy", "trigger_id": "1.2.3",
        "channel": {"id": channel}, "container": {"type": "message", "channel_id": channel},
        "message": {"ts": reply.params["ts"], "thread_ts": "1", "text": reply.params["text"]},
        "response_url": f"http://127.0.0.1:{fake_slack.port}/response/fb",
        "actions": [{"type": "button", "action_id": down["action_id"], "block_id": "feedback",
                     "value": down["value"], "action_ts": str(time.time())}],
    }  # fmt: skip
    body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    assert send(bot, body, "application/x-www-form-urlencoded")[0] == 200
    feedback = FeedbackStore(feedback_path(slack_index))

    def stored() -> list[Any]:
        return [r for r in feedback.all() if r.question == HOSTILE_QUESTION and r.verdict == "down"]

    record = fake_slack.wait_for(stored, "the 👎 in the feedback store")[0]
    assert "4,321" in record.answer["answer"] and record.answer["citations"]
    thanks = fake_slack.wait_for(
        lambda: fake_slack.in_channel(channel, "chat.postEphemeral"), "thanks"
    )
    assert thanks[0].params["user"] == "UREADER1"


def test_a_rate_limited_update_waits_and_is_retried(bot: str, fake_slack: FakeSlack) -> None:
    channel = new_channel()
    limited = (429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
    fake_slack.fail_next["chat.update"] = [limited]
    assert send(bot, envelope(mention(channel, HOSTILE_QUESTION)))[0] == 200
    final_reply(fake_slack, channel)
    assert not fake_slack.fail_next["chat.update"]  # the 429 was served, and the answer still came


def test_a_message_slack_finds_too_long_goes_out_in_parts(bot: str, fake_slack: FakeSlack) -> None:
    channel = new_channel()
    fake_slack.max_blocks = 3
    try:
        assert send(bot, envelope(mention(channel, HOSTILE_QUESTION)))[0] == 200

        def parts() -> list[Call]:
            posted = [c for c in fake_slack.in_channel(channel) if c.response.get("ok")]
            return posted if any(b.get("type") == "actions" for c in posted
                                 for b in c.params.get("blocks") or []) else []  # fmt: skip

        posted = fake_slack.wait_for(parts, "the answer in parts")
    finally:
        fake_slack.max_blocks = None
    shown = "\n".join(shown_text(c.params.get("blocks") or []) for c in posted)
    assert "4,321" in shown and "*[1]" in shown
    assert all(len(c.params.get("blocks") or []) <= 3 for c in posted)


# ------------------------------------------------------------------ in this process


@pytest.fixture
def in_process(fake_slack: FakeSlack, slack_index: Path) -> Callable[..., Any]:
    """A SlackBot over the slack index talking to the fake through a real WebClient."""
    from slack_sdk import WebClient

    from rag.apps.backend import ChatBackend
    from rag.apps.slack import SlackBot
    from rag.config import Settings, SlackSettings

    def make(answerer: str | None = None, settings: Settings | None = None, **slack: Any) -> Any:
        settings = settings or Settings(index_dir=slack_index)
        slack_settings = SlackSettings(
            bot_token="xoxb-test-token", api_base_url=fake_slack.base_url, **slack
        )
        backend = ChatBackend(slack_index, answerer, settings)
        client = WebClient(token="xoxb-test-token", base_url=fake_slack.base_url)
        return SlackBot(backend, slack_settings), client

    return make


def test_a_failed_answer_posts_an_apology_and_is_logged(
    in_process: Callable[..., Any], fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    from rag.answerers.base import Answerer
    from rag.answerers.registry import register
    from rag.apps.slack import Place

    class Broken(Answerer):
        name = "broken"

        def answer(self, evidence: Any) -> Any:
            raise RuntimeError("the answerer fell over")

    register("broken-for-test", lambda settings: Broken())
    bot, client = in_process("broken-for-test")
    channel = new_channel()
    bot.answer_in_thread(
        client, "Wie viele H200-Einheiten will Alibaba abnehmen?", Place(channel, "1.1")
    )
    update = fake_slack.in_channel(channel, "chat.update")[-1]
    assert update.params["text"].startswith("Entschuldigung")  # in the question's language
    assert "the answerer fell over" in caplog.text


def test_an_unavailable_llm_falls_back_to_the_extractive_answer_with_a_notice(
    in_process: Callable[..., Any], fake_slack: FakeSlack, slack_index: Path
) -> None:
    from rag.apps.slack import Place
    from rag.config import LLMSettings, Settings

    closed = free_port()  # nothing listens there
    llm = replace(LLMSettings.from_env({}), base_url=f"http://127.0.0.1:{closed}/v1", retries=0)
    bot, client = in_process("openai", Settings(index_dir=slack_index, llm=llm))
    channel = new_channel()
    bot.answer_in_thread(client, HOSTILE_QUESTION, Place(channel, "1.1"))
    blocks = fake_slack.in_channel(channel, "chat.update")[-1].params["blocks"]
    assert blocks[0]["type"] == "context" and "The LLM failed" in blocks[0]["elements"][0]["text"]
    assert "4,321" in shown_text(blocks)


def test_ephemeral_slash_command_answers_only_the_asker(
    in_process: Callable[..., Any], fake_slack: FakeSlack
) -> None:
    bot, client = in_process(command_response="ephemeral")
    channel = new_channel()
    command = {"channel_id": channel, "user_id": "UASKER02", "text": HOSTILE_QUESTION}
    bot.answer_command(client, command, respond=lambda **kw: pytest.fail(f"responded {kw}"))
    [call] = fake_slack.in_channel(channel)
    assert call.method == "chat.postEphemeral" and call.params["user"] == "UASKER02"
    assert "4,321" in shown_text(call.params["blocks"])


def test_a_follow_up_in_a_thread_is_read_with_the_previous_question(
    in_process: Callable[..., Any], fake_slack: FakeSlack
) -> None:
    from rag.apps.slack import Place

    bot, client = in_process()
    place = Place(new_channel(), "2.2")
    bot.answer_in_thread(client, "How many H200 chips is Alibaba ready to order?", place)
    bot.answer_in_thread(client, "and ByteDance?", place)
    blocks = fake_slack.in_channel(place.channel, "chat.update")[-1].params["blocks"]
    assert "Understood as:" in blocks[0]["elements"][0]["text"]
    assert "ByteDance" in blocks[0]["elements"][0]["text"]


@pytest.mark.parametrize(("interval", "previews"), [(3600.0, 0), (0.0, 5)])
def test_a_streamed_answer_edits_the_message_at_most_once_per_interval(
    in_process: Callable[..., Any], fake_slack: FakeSlack, interval: float, previews: int
) -> None:
    from rag.answerers.base import Answerer
    from rag.answerers.extractive import ExtractiveAnswerer
    from rag.answerers.registry import register
    from rag.apps.slack import Place

    class Streaming(Answerer):
        """The extractive answer, streamed in five pieces as an LLM would."""

        name = "streaming"

        def answer(self, evidence: Any) -> Any:
            return ExtractiveAnswerer().answer(evidence)

        def stream(self, evidence: Any) -> Iterator[Any]:
            result = self.answer(evidence)
            yield from ("Alibaba ", "wants ", "over ", "200,000 ", "chips")
            yield result

    register("streaming-for-test", lambda settings: Streaming())
    bot, client = in_process("streaming-for-test", update_interval_s=interval)
    channel = new_channel()
    bot.answer_in_thread(client, "How many H200 chips will Alibaba order?", Place(channel, "3.3"))
    updates = fake_slack.in_channel(channel, "chat.update")
    assert len(updates) == previews + 1  # the previews, then the answer
    assert all(u.params["text"].endswith(" …") for u in updates[:-1])
    assert any(b["type"] == "actions" for b in updates[-1].params["blocks"])


# ------------------------------------------------------------------ configuration and setup


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        ([], {"SLACK_BOT_TOKEN": "xoxb-1"}, "missing: SLACK_SIGNING_SECRET"),
        ([], {}, "missing: SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET"),
        (
            ["--socket"],
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"},
            "missing: SLACK_APP_TOKEN",
        ),
        (
            ["--socket"],
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xoxb-2"},
            "starts with xapp-",
        ),
        (
            [],
            {"SLACK_BOT_TOKEN": "x", "SLACK_SIGNING_SECRET": "s", "SLACK_API_BASE_URL": "ftp://x/"},
            "http(s) URL",
        ),
    ],
)
def test_missing_or_malformed_credentials_are_one_clear_line(
    args: list[str], env: dict[str, str], named: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from rag.apps.cli import main

    for name in [n for n in os.environ if n.startswith("SLACK_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["slack", *args]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("rag: error:") and named in err and "\n" not in err


def test_an_unreachable_slack_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], seed_index: Path
) -> None:
    from rag.apps.cli import main

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
    monkeypatch.setenv("SLACK_API_BASE_URL", f"http://127.0.0.1:{free_port()}/api/")
    assert main(["slack", "--index", str(seed_index), "--port", str(free_port())]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("rag: error: cannot sign in to Slack at http://127.0.0.1:")


def test_the_manifest_asks_for_what_the_bot_handles() -> None:
    import yaml

    from rag.config import SlackSettings

    manifest = yaml.safe_load((REPO / "slack" / "manifest.yml").read_text())
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == [
        "app_mention",
        "message.im",
    ]
    assert manifest["features"]["slash_commands"][0]["command"] == SlackSettings().command
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"app_mentions:read", "chat:write", "commands", "im:history"} <= scopes
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["event_subscriptions"]["request_url"].endswith("/slack/events")


# ------------------------------------------------------------------ Socket Mode


def test_socket_mode_acks_the_envelope_and_replies_in_the_thread(
    fake_slack: FakeSlack, slack_index: Path, tmp_path: Path
) -> None:
    from websockets.sync.server import serve

    channel = new_channel()
    event = mention(channel, "How many H200 chips will Alibaba order?")
    envelope_id = f"env-{uuid.uuid4()}"
    received: list[dict[str, Any]] = []

    def slack_side(ws: Any) -> None:
        ws.send(json.dumps({"type": "hello", "num_connections": 1}))
        ws.send(json.dumps({
            "envelope_id": envelope_id, "type": "events_api", "accepts_response_payload": False,
            "retry_attempt": 0, "retry_reason": "", "payload": json.loads(envelope(event)),
        }))  # fmt: skip
        for message in ws:
            received.append(json.loads(message))

    port = free_port()
    with serve(slack_side, "127.0.0.1", port) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        fake_slack.ws_url = f"ws://127.0.0.1:{port}/link/?ticket=test"
        env = _bot_env(fake_slack, SLACK_APP_TOKEN="xapp-1-test")
        process = BotProcess(
            ["--socket", "--index", str(slack_index)], env, tmp_path / "socket.log"
        )
        try:
            process.wait_until(lambda: any(m.get("envelope_id") == envelope_id for m in received),
                               "acking the envelope")  # fmt: skip
            reply = final_reply(fake_slack, channel)
        finally:
            process.stop()
    opened = [c for c in fake_slack.calls if c.method == "apps.connections.open"]
    assert opened and opened[-1].token == "xapp-1-test"  # the app-level token opens the socket
    placeholder = fake_slack.in_channel(channel, "chat.postMessage")[0]
    assert placeholder.params["thread_ts"] == event["ts"]
    assert "[1]" in shown_text(reply.params["blocks"])
