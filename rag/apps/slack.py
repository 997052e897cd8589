"""The Slack bot: mentions, direct messages and a slash command get threaded, cited answers.

Built on Slack's Bolt. `rag slack` serves the Events API over HTTP (`POST /slack/events` on
uvicorn, 127.0.0.1 by default) or, with `--socket`, connects out through Socket Mode. Either
way Slack's rules are kept: Bolt verifies every HTTP request's signature (v0 HMAC, 5-minute
window) and answers the `url_verification` challenge; events are acknowledged at once and
answered afterwards in a worker thread; a retried or repeated delivery is answered once.

The bot is a front end like the chat page: it asks the shared `ChatBackend` (so the configured
fallback answerer, not code here, covers an unavailable LLM), renders the presentation model
with `slack_blocks`, and stores 👍/👎 in the same feedback file as the page.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from rag.answers import Answer
from rag.apps import slack_blocks as sb
from rag.apps.backend import ChatBackend
from rag.config import RedactingFilter, SlackSettings, redact, redact_url
from rag.conversation import resolve_follow_up
from rag.errors import ConfigError, MissingExtra, RagError
from rag.lang import apology_message, detect_question, working_message

log = logging.getLogger("rag.slack")

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
REMEMBERED = 2000  # answers kept for their feedback buttons, and threads for follow-ups
SEEN_FOR_S = 3600.0  # Slack retries within minutes; an hour of event ids is plenty
# Slack's answers that mean "this channel is closed to a bot message": a slash command then
# answers through its response_url instead.
CLOSED_CHANNEL = ("not_in_channel", "channel_not_found", "is_archived")
USAGE = "Ask me about the news articles, e.g. _How many H200 chips will Alibaba order?_"


def _sdk() -> Any:
    """Slack's SDK, or a one-line error naming the extra to install."""
    try:
        import slack_bolt
        import slack_sdk
    except ImportError:
        raise MissingExtra("slack-bolt", "slack") from None
    return slack_bolt, slack_sdk


# ------------------------------------------------------------------ memory


class SeenEvents:
    """Event ids (and message timestamps) answered in the last hour: Slack redelivers an event
    it thinks was missed (X-Slack-Retry-Num), and one message can arrive as two events."""

    def __init__(self, keep_s: float = SEEN_FOR_S) -> None:
        self.keep_s = keep_s
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, *keys: str) -> bool:
        """True once for any of `keys`; every later call with one of them is False."""
        now = time.monotonic()
        with self._lock:
            while self._seen and next(iter(self._seen.values())) < now - self.keep_s:
                self._seen.popitem(last=False)
            if any(k in self._seen for k in keys):
                return False
            for key in keys:
                self._seen[key] = now
            return True


class Recent:
    """A bounded, thread-safe map: the newest REMEMBERED entries."""

    def __init__(self, size: int = REMEMBERED) -> None:
        self.size = size
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def get(self, key: str) -> Any:
        with self._lock:
            return self._items.get(key)


@dataclass(frozen=True)
class Place:
    """Where a reply goes: a channel, and the thread in it (None: the channel itself)."""

    channel: str
    thread_ts: str | None
    user: str | None = None


# ------------------------------------------------------------------ the bot


class SlackBot:
    """Answers questions from Slack; the Bolt app (`build_app`) only routes events here."""

    def __init__(self, backend: ChatBackend, settings: SlackSettings) -> None:
        self.backend = backend
        self.settings = settings
        self.seen = SeenEvents()
        self.answers = Recent()  # feedback key -> {"question", "answer"}
        self.threads = Recent()  # "channel/thread_ts" -> the last question asked there

    # -------------------------------------------------------------- answering

    def answer_in_thread(self, client: Any, question: str, place: Place) -> None:
        """A placeholder at once, edited into the cited answer when it is ready. A question
        the product cannot take edits it into the reason; any other failure into a short
        apology in the question's language, and the failure is logged."""
        lang = detect_question(question) if question else "en"
        posted = post(client, place, text=f"⏳ {working_message(lang)}")
        if posted is None:
            return
        ts = posted["ts"]
        try:
            blocks, text = self.compose(question, place, lambda partial: edit_partial(
                client, place.channel, ts, partial))  # fmt: skip
            deliver(client, place, ts, blocks, text)
        except RagError as err:
            reason = sb.escape(str(err))
            edit(client, place.channel, ts, [sb.context(f"⚠️ {reason}")], reason)
        except Exception:
            log.exception("answering %r in %s failed", question, place.channel)
            apology = apology_message(lang)
            edit(client, place.channel, ts, [sb.context(f"⚠️ {apology}")], apology)

    def compose(
        self, question: str, place: Place, on_partial: Callable[[str], None] | None = None
    ) -> tuple[list[sb.Block], str]:
        """The reply's blocks and fallback text. A question in a thread that leans on the
        previous one ("and ByteDance?") is read with it, and the reply says how it was read."""
        if not question:
            return [*sb.sections(USAGE)], USAGE
        thread = f"{place.channel}/{place.thread_ts}"
        understood = resolve_follow_up(question, self.threads.get(thread))
        answer = self._final_answer(understood, on_partial)
        self.threads.put(thread, understood)
        key = uuid.uuid4().hex
        self.answers.put(key, {"question": understood, "answer": answer.to_dict()})
        view = self.backend.view(answer)
        shown = understood if understood != question else ""
        return sb.answer_blocks(view, key, shown), sb.fallback_text(view)

    def _final_answer(self, question: str, on_partial: Callable[[str], None] | None) -> Answer:
        """The answer; streamed text goes to `on_partial` at most once per update interval."""
        partial, last = "", time.monotonic()  # a quick answer needs no preview
        for event in self.backend.ask_stream(question):
            if isinstance(event, Answer):
                return event
            partial += event
            now = time.monotonic()
            if on_partial is not None and now - last >= self.settings.update_interval_s:
                on_partial(partial)
                last = now
        raise RuntimeError("the answerer's stream ended without an answer")

    # -------------------------------------------------------------- the slash command

    def answer_command(self, client: Any, command: dict[str, Any], respond: Any) -> None:
        """In the channel (a parent message quoting the question, the answer in its thread),
        or only to the asker; where the bot may not post, through the command's response_url."""
        question = sb.plain_text(command.get("text") or "")
        channel, user = command["channel_id"], command["user_id"]
        if self.settings.command_response == "ephemeral":
            self._answer_privately(client, question, Place(channel, None, user), respond)
            return
        parent = post(client, Place(channel, None, user),
                      text=f"<@{user}> asked: {sb.escape(question)}", closed_ok=True)  # fmt: skip
        if parent is None:
            blocks, text = self._composed_or_apology(question, Place(channel, None, user))
            respond(text=text, blocks=blocks, response_type="in_channel", replace_original=False)
            return
        self.answer_in_thread(client, question, Place(channel, parent["ts"], user))

    def _answer_privately(self, client: Any, question: str, place: Place, respond: Any) -> None:
        blocks, text = self._composed_or_apology(question, place)
        try:
            client.chat_postEphemeral(channel=place.channel, user=place.user, text=text,
                                      blocks=blocks[: sb.MAX_BLOCKS])  # fmt: skip
        except _api_error() as err:
            if _error_code(err) not in CLOSED_CHANNEL:
                raise
            respond(text=text, blocks=blocks[: sb.MAX_BLOCKS], response_type="ephemeral")

    def _composed_or_apology(self, question: str, place: Place) -> tuple[list[sb.Block], str]:
        try:
            return self.compose(question, place)
        except RagError as err:
            reason = sb.escape(str(err))
            return [sb.context(f"⚠️ {reason}")], reason
        except Exception:
            log.exception("answering %r in %s failed", question, place.channel)
            apology = apology_message(detect_question(question) if question else "en")
            return [sb.context(f"⚠️ {apology}")], apology

    # -------------------------------------------------------------- feedback

    def record_feedback(self, client: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        """Store a 👍/👎 beside the index, as the chat page does, and tell the reader."""
        verdict = "up" if action["action_id"] == sb.FEEDBACK_UP else "down"
        record = self.answers.get(action.get("value") or "")
        message = body.get("message") or {}
        if record is None:  # the bot restarted since it answered: keep what the message shows
            question = self.threads.get(f"{body['channel']['id']}/{message.get('thread_ts')}")
            record = {
                "question": question or "(asked before the bot restarted)",
                "answer": {"answer": sb.plain_text(message.get("text") or ""), "answerer": ""},
            }
        self.backend.feedback(record, verdict, comment=f"slack user {body['user']['id']}")
        thanks = "Thanks: your 👍 is stored." if verdict == "up" else "Thanks: your 👎 is stored."
        try:
            client.chat_postEphemeral(channel=body["channel"]["id"], user=body["user"]["id"],
                                      thread_ts=message.get("thread_ts"), text=thanks)  # fmt: skip
        except _api_error() as err:
            log.warning("could not thank for feedback: %s", _error_code(err))


# ------------------------------------------------------------------ Web API calls


def _api_error() -> type[Exception]:
    from slack_sdk.errors import SlackApiError

    return SlackApiError


def _error_code(err: Exception) -> str:
    response = getattr(err, "response", None)
    try:
        return str(response["error"]) if response is not None else str(err)
    except (KeyError, TypeError):
        return str(err)


def post(client: Any, place: Place, closed_ok: bool = False, **message: Any) -> Any:
    """chat.postMessage without link previews; None where the bot may not post (logged)."""
    try:
        return client.chat_postMessage(channel=place.channel, thread_ts=place.thread_ts,
                                       unfurl_links=False, unfurl_media=False, **message)  # fmt: skip
    except _api_error() as err:
        if _error_code(err) not in CLOSED_CHANNEL:
            raise
        if not closed_ok:
            log.warning("cannot post in %s: %s", place.channel, _error_code(err))
        return None


def edit(client: Any, channel: str, ts: str, blocks: list[sb.Block], text: str) -> None:
    client.chat_update(channel=channel, ts=ts, blocks=blocks, text=text)


def edit_partial(client: Any, channel: str, ts: str, partial: str) -> None:
    """A streamed answer so far; a failed edit only delays the reader, so it is not fatal."""
    text = sb.escape(partial) + " …"
    try:
        edit(client, channel, ts, sb.sections(text)[:1], text)
    except _api_error() as err:
        log.warning("could not update the streamed answer: %s", _error_code(err))


def deliver(client: Any, place: Place, ts: str, blocks: list[sb.Block], text: str) -> None:
    """The placeholder becomes the answer's first message; the rest follow in the thread.
    Should Slack still find a message too long, its blocks go out in two halves."""
    first, *rest = sb.messages(blocks)
    _send(client, place, ts, first, text)
    for more in rest:
        _send(client, place, None, more, text)


def _send(client: Any, place: Place, ts: str | None, blocks: list[sb.Block], text: str) -> None:
    try:
        if ts is None:
            post(client, place, blocks=blocks, text=text)
        else:
            edit(client, place.channel, ts, blocks, text)
    except _api_error() as err:
        if _error_code(err) != "msg_too_long" or len(blocks) < 2:
            raise
        log.info("Slack found the message too long; sending it in two parts")
        half = len(blocks) // 2
        short = sb.shorten(text, sb.TEXT_CHARS // 4)
        _send(client, place, ts, blocks[:half], short)
        _send(client, place, None, blocks[half:], short)


# ------------------------------------------------------------------ the Bolt app


def build_app(bot: SlackBot, socket_mode: bool = False) -> Any:
    """The Bolt app: signature verification on (HTTP), its events, command and actions."""
    slack_bolt, slack_sdk = _sdk()
    from slack_sdk.http_retry.builtin_handlers import (
        ConnectionErrorRetryHandler,
        RateLimitErrorRetryHandler,
    )

    settings = bot.settings
    client = slack_sdk.WebClient(
        token=settings.bot_token,
        base_url=settings.api_base_url,
        # `ratelimited` (HTTP 429): wait as long as its Retry-After says, then try again.
        retry_handlers=[
            ConnectionErrorRetryHandler(),
            RateLimitErrorRetryHandler(max_retry_count=3),
        ],
    )
    try:
        app = slack_bolt.App(
            client=client,
            signing_secret=settings.signing_secret or "",
            request_verification_enabled=not socket_mode,
            process_before_response=False,  # ack first, answer in a worker thread
        )
    except Exception as err:  # Bolt signs in with auth.test here
        raise ConfigError(
            f"cannot sign in to Slack at {redact_url(settings.api_base_url)}: "
            f"{redact(str(err), settings.secrets())}"
        ) from None
    _route(app, bot)
    return app


def _route(app: Any, bot: SlackBot) -> None:
    from slack_bolt import BoltResponse

    @app.middleware
    def once_and_only_people(body: dict[str, Any], context: Any, next: Callable[[], None]) -> Any:
        """Other bots' messages, edits and deletions, and repeated deliveries end here, acked."""
        if body.get("type") == "event_callback":
            event = body.get("event") or {}
            from_a_bot = bool(event.get("bot_id")) or event.get("user") == context.bot_user_id
            keys = [str(body.get("event_id"))]
            if event.get("type") == "app_mention" or event.get("channel_type") == "im":
                keys.append(f"{event.get('channel')}/{event.get('ts')}")  # one message, once
            if from_a_bot or event.get("subtype") or not bot.seen.first_time(*keys):
                return BoltResponse(status=200, body="")
        return next()

    @app.event("app_mention")
    def on_mention(event: dict[str, Any], client: Any, context: Any) -> None:
        question = sb.plain_text(event.get("text") or "", drop_user=context.bot_user_id)
        place = Place(event["channel"], event.get("thread_ts") or event["ts"], event.get("user"))
        bot.answer_in_thread(client, question, place)

    @app.event("message")
    def on_message(event: dict[str, Any], client: Any, context: Any) -> None:
        if event.get("channel_type") != "im":
            return  # channels: the bot answers when mentioned (app_mention)
        question = sb.plain_text(event.get("text") or "", drop_user=context.bot_user_id)
        place = Place(event["channel"], event.get("thread_ts") or event["ts"], event.get("user"))
        bot.answer_in_thread(client, question, place)

    @app.command(bot.settings.command)
    def on_command(ack: Any, command: dict[str, Any], client: Any, respond: Any) -> None:
        if not (command.get("text") or "").strip():
            ack(text=USAGE)
            return
        lang = detect_question(command["text"])
        ack(text=f"⏳ {working_message(lang)}")
        bot.answer_command(client, command, respond)

    for action_id in (sb.FEEDBACK_UP, sb.FEEDBACK_DOWN):

        @app.action(action_id)
        def on_feedback(
            ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any
        ) -> None:
            ack()
            bot.record_feedback(client, body, action)


# ------------------------------------------------------------------ serving


def asgi_app(bolt_app: Any) -> Any:
    """Bolt behind ASGI: `POST /slack/events`, and `GET /healthz` for probes. Bolt's sync
    dispatch (signature check, routing, the ack) runs in a thread, off the event loop."""
    from slack_bolt.adapter.asgi import SlackRequestHandler
    from slack_bolt.request import BoltRequest

    class ThreadedHandler(SlackRequestHandler):
        async def dispatch(self, request: Any) -> Any:
            bolt_request = BoltRequest(body=await request.get_raw_body(),
                                       query=request.query_string, headers=request.get_headers())  # fmt: skip
            return await asyncio.to_thread(self.app.dispatch, bolt_request)

    handler = ThreadedHandler(bolt_app, EVENTS_PATH)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == HEALTH_PATH:
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/plain")]})  # fmt: skip
            await send({"type": "http.response.body", "body": b"ok"})
            return
        await handler(scope, receive, send)

    return app


def serve_http(bolt_app: Any, host: str, port: int) -> None:
    try:
        import uvicorn
    except ImportError:
        raise MissingExtra("uvicorn", "slack") from None
    print(f"Slack bot: events at http://{host}:{port}{EVENTS_PATH}", flush=True)
    uvicorn.run(asgi_app(bolt_app), host=host, port=port, log_level="warning", lifespan="off")


def serve_socket(bolt_app: Any, app_token: str) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    print("Slack bot: connecting through Socket Mode", flush=True)
    SocketModeHandler(bolt_app, app_token).start()


def run(args: argparse.Namespace) -> None:
    """`rag slack`: check the credentials for the mode, load the index (so the first answer
    is fast), then serve until stopped."""
    settings = args.settings
    slack = settings.slack
    if args.command_response:
        slack = replace(slack, command_response=args.command_response)
    slack.check(socket_mode=args.socket)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    hidden = RedactingFilter([*slack.secrets(), settings.llm.api_key])
    for handler in logging.getLogger().handlers:
        handler.addFilter(hidden)
    backend = ChatBackend(args.index, args.llm, settings)
    backend.rag()
    bot = SlackBot(backend, slack)
    app = build_app(bot, socket_mode=args.socket)
    if args.socket:
        serve_socket(app, str(slack.app_token))
    else:
        serve_http(app, args.host, args.port or slack.port)
