"""Stopping the child processes that benchmarks and tests start (a Milvus Lite server, the
page and the bot under load, a local LLM server): politely first, by force if they linger,
and always reaped, so none is left behind as a zombie or holding its port."""

from __future__ import annotations

import subprocess
from typing import Any


def stop(process: subprocess.Popen[Any], grace_s: float) -> None:
    """SIGTERM `process`, SIGKILL it if it has not ended after `grace_s`, and wait for it."""
    process.terminate()
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
