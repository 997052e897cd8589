"""Frees what Gradio keeps of a session after its last event is delivered.

Gradio 6 (checked on 6.31) files every queued event under its session hash, and an API call
without a session hash (`POST /gradio_api/call/ask`, what `rag bench load` sends) gets a new
hash per call. When the result is delivered, Gradio removes the event's id but keeps, per hash:
an empty set in `Queue.pending_event_ids_session` (a plain dict: grows by one entry per call,
forever), an `asyncio.Queue` in `Queue.pending_messages_per_session` (an LRU of 2,000) and a
`SessionState` in `StateHolder.session_data` (~110 KB each, an LRU of `Settings.web_sessions`,
where one-shot API sessions push the page's readers out). Gradio cleans these only when a
stream is cut mid-event, and a closed browser tab only marks its state for expiry.

`SessionSweeper` runs on the server's own event loop (a FastAPI lifespan, which Gradio's
`launch(app_kwargs=...)` accepts), so each sweep is atomic to Gradio's coroutines. A session is
pruned once it has had no pending event for two sweeps in a row; its state goes too only when
it cannot be resumed: the hash was made from the call's own event id and it holds no gr.State.
A later event in a pruned session (a browser tab, a gradio_client) starts its bookkeeping anew.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

SWEEP_EVERY_S = 2.0


class SessionSweeper:
    """Prunes finished sessions from one launched Blocks' queue and state holder."""

    def __init__(self, blocks: Any) -> None:
        self.blocks = blocks
        self._idle: set[str] = set()  # sessions with no pending event at the last sweep

    def sweep(self) -> int:
        """Prune the sessions idle now and at the last sweep; returns how many."""
        queue = self.blocks._queue
        pending: dict[str, set[str]] = queue.pending_event_ids_session
        idle = {session for session, event_ids in pending.items() if not event_ids}
        finished = idle & self._idle
        for session in finished:
            del pending[session]
            queue.pending_messages_per_session.pop(session, None)
            if self._one_shot(queue, session):
                self.blocks.state_holder.session_data.pop(session, None)
                self.blocks.state_holder.time_last_used.pop(session, None)
        self._idle = idle - finished
        return len(finished)

    def _one_shot(self, queue: Any, session: str) -> bool:
        """An API call that sent no session hash: Gradio named the session after the event, so
        no client knows it, and the state it was given holds no gr.State value."""
        named_after_event = queue.event_analytics.get(session, {}).get("session_hash") == session
        state = self.blocks.state_holder.session_data.get(session)
        return named_after_event and (state is None or not state.state_data)

    async def run(self, every_s: float = SWEEP_EVERY_S) -> None:
        """Sweep until cancelled (the server stopping)."""
        while True:
            await asyncio.sleep(every_s)
            self.sweep()


def sweeping_lifespan(blocks: Any) -> Callable[[Any], contextlib.AbstractAsyncContextManager[None]]:
    """A FastAPI lifespan that sweeps `blocks`' sessions while the server runs."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        task = asyncio.create_task(SessionSweeper(blocks).run())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return lifespan
