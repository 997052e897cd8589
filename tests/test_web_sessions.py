"""The chat page under API calls that each start a new Gradio session (what `rag bench load`
and any plain HTTP client send): once answered, nothing of those sessions stays in the server,
while a result not fetched yet, and a client that keeps its session, still work."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from rag.apps import web
from rag.config import Settings
from rag.evaluation.load import WebTarget
from tests import test_browser
from tests.conftest import free_port
from tests.test_browser import CHROMEDRIVER, CHROMIUM, ask, find, wait

chromium = test_browser.driver  # its Chromium fixture, for the reader's tab below

pytest.importorskip("gradio")

QUESTION = "How much HBM3E memory does the H200 have?"
CALLS = 40


@contextmanager
def launched(index: Path) -> Iterator[tuple[Any, str]]:
    """The page launched as `ui.py` does (its Blocks, to count what Gradio keeps), then closed."""
    app = web.create_app(web.ChatBackend(index, settings=Settings(index_dir=index)))
    port = free_port()
    web.launch(app, "127.0.0.1", port, prevent_thread_lock=True, quiet=True,
               state_session_capacity=Settings().web_sessions)  # fmt: skip
    try:
        yield app, f"http://127.0.0.1:{port}"
    finally:
        app.close()


@pytest.fixture(scope="module")
def page(seed_index: Path) -> Iterator[tuple[Any, str]]:
    with launched(seed_index) as served:
        yield served


def kept(app: Any) -> dict[str, int]:
    """Gradio's per-session bookkeeping, by structure."""
    queue = app._queue
    return {
        "pending_event_ids_session": len(queue.pending_event_ids_session),
        "pending_messages_per_session": len(queue.pending_messages_per_session),
        "session_data": len(app.state_holder.session_data),
        "time_last_used": len(app.state_holder.time_last_used),
    }


def settled(measure: Callable[[], Any], done: Callable[[Any], bool], within_s: float = 60) -> Any:
    """`measure()` once `done` holds of it (the sweeper runs every few seconds), or as it is
    when `within_s` runs out, for the assertion to show."""
    deadline = time.monotonic() + within_s
    value = measure()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.5)
        value = measure()
    return value


def post_ask(base: str) -> str:
    """`POST /gradio_api/call/ask` without a session hash: the event id to fetch the result."""
    request = urllib.request.Request(
        f"{base}/gradio_api/call/ask", data=json.dumps({"data": [QUESTION, "", 0]}).encode(),
        method="POST", headers={"Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=60) as response:
        return str(json.loads(response.read())["event_id"])


def test_answered_api_calls_leave_no_session_behind(page: tuple[Any, str]) -> None:
    app, base = page
    target = WebTarget(None, base)  # type: ignore[arg-type] # the page runs in this process
    answers = [target.ask(QUESTION, 120)[0] for _ in range(CALLS)]
    assert all("[1]" in a for a in answers), answers[0]  # every call was answered with a source
    # Before the sweeper, each call left an entry in all four (the state holder's up to its
    # capacity, 500): 40 and more after 40 calls.
    left = settled(lambda: kept(app), lambda k: not any(k.values()))
    assert left == dict.fromkeys(left, 0)


def test_a_result_not_fetched_yet_survives_sweeps(page: tuple[Any, str]) -> None:
    app, base = page
    event_id = post_ask(base)
    settled(lambda: app._queue.event_ids_to_events, lambda events: event_id not in events)
    # Answered, not yet delivered; then three calls answered and swept, so sweeps ran since.
    target = WebTarget(None, base)  # type: ignore[arg-type]
    for _ in range(3):
        target.ask(QUESTION, 120)
    waiting = settled(lambda: set(app._queue.pending_event_ids_session),
                      lambda sessions: len(sessions) <= 1)  # fmt: skip
    assert waiting == {event_id}  # the session of the undelivered call, named after its event
    result = WebTarget._result(f"{base}/gradio_api/call/ask/{event_id}", 60)
    assert "[1]" in result["answer"]


def test_a_client_keeps_its_session_across_sweeps(page: tuple[Any, str]) -> None:
    from gradio_client import Client

    app, base = page
    client = Client(base + "/", verbose=False)
    first = client.predict(QUESTION, "", 0, api_name="/ask")
    left = settled(lambda: kept(app)["pending_event_ids_session"], lambda n: n == 0)
    assert left == 0  # its finished session was swept from the queue ...
    assert client.predict(QUESTION, "", 0, api_name="/ask")["answer"] == first["answer"]
    # ... and the state it was given (not a one-shot call) was kept for it
    assert client.session_hash in app.state_holder.session_data


@pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()), reason="needs Chromium")
def test_a_readers_tab_keeps_its_follow_up_and_feedback_across_sweeps(
    seed_index_copy: Path, chromium: Any
) -> None:
    driver = chromium
    with launched(seed_index_copy) as (app, base):
        driver.get(base)
        ask(driver, "How many Nvidia chips is Alibaba ready to order?")
        wait(driver, lambda d: find(d, '#chat a.cite[href="#src-1"]'))
        # The tab's finished session is swept from the queue; its state (gr.State) stays.
        left = settled(lambda: kept(app)["pending_event_ids_session"], lambda n: n == 0)
        assert left == 0 and kept(app)["session_data"] == 1
        find(driver, "#question textarea")[0].clear()
        ask(driver, "and ByteDance?")
        understood = "Understood as: How many Nvidia chips is ByteDance ready to order?"
        wait(driver, lambda d: understood in find(d, "#chat")[0].text)
        settled(lambda: kept(app)["pending_event_ids_session"], lambda n: n == 0)
        find(driver, "#feedback-up")[0].click()
        wait(driver, lambda d: "Thank you" in d.find_element("tag name", "body").text)
