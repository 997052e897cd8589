"""`rag bench load`: the chat page's `/ask` API and the Slack bot under concurrent questions,
during an ingest by another process, and over a steady soak, each server in its own process.

Every question has a figure its answer must contain, so a run counts wrong answers apart from
errors (a refused request, a timeout, an error reply). Latency is what a client waits: for
the page, from POSTing the question to its API to the complete event; for Slack, from
POSTing the signed event to the fake Web API (rag/evaluation/slack_fake.py) receiving the
final chat.update, the one carrying the feedback buttons.

The ingest phase runs `rag ingest` of three new articles into the servers' index while
questions keep coming: readers must get correct answers throughout (from the old version or
the new one, never a half-written one), and afterwards both servers must answer from the new
articles without a restart. The soak sends questions at a steady rate and samples each
server's resident memory (VmRSS) to show whether it grows.

Run outside the test suite: it prints and reports figures, it asserts nothing about time.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rag import processes
from rag.config import LoadSettings, child_environment
from rag.errors import InputError, RagError
from rag.evaluation import slack_fake

TARGETS = ("web", "slack")
Say = Callable[[str], None]
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, no proxy


@dataclass(frozen=True)
class Probe:
    """A question and the figure its answer must contain to count as correct."""

    question: str
    figure: str


# Questions about the seed corpus (corpus/) that the default extractive answerer gets right,
# in four languages, some answered across languages (German question, English article).
SEED_PROBES = (
    Probe("How many H200 chips will Alibaba order?", "200,000"),
    Probe("Wie viele Nvidia-Chips wollen Alibaba und ByteDance bestellen?", "200,000"),
    Probe("How much HBM3E memory does the H200 have?", "141GB"),
    Probe("How many H200 units have Chinese firms ordered for 2026?", "2 million"),
    Probe("¿Cuánto invertirá Alibaba en IA en tres años?", "380 billion yuan"),
    Probe("H200的AI算力是H20的多少倍？", "13倍"),
)


@dataclass(frozen=True)
class NewArticle:
    """A fictional article the ingest phase adds, with the question only it answers."""

    doc_id: str
    text: str
    meta: dict[str, str]
    probe: Probe


NEW_ARTICLES = (
    NewArticle(
        "load-kestrel",
        "Kestrel Robotics, a warehouse-automation start-up, ordered exactly 4,321 Nvidia H200 "
        "accelerators for its Reykjavik data centre, a spokesman said on Monday.\n\n"
        "The chips are due to arrive in the second quarter.",
        {
            "title": "Kestrel Robotics orders H200 accelerators",
            "lang": "en",
            "date": "2026-02-02",
            "outlet": "Load Wire",
        },
        Probe("How many H200 accelerators did Kestrel Robotics order?", "4,321"),
    ),
    NewArticle(
        "load-falkenwerk",
        "Der Maschinenbauer Falkenwerk investiert 870 Millionen Euro in ein neues "
        "KI-Rechenzentrum in Leipzig, teilte das Unternehmen am Dienstag mit.\n\n"
        "Der Bau soll im Herbst beginnen.",
        {
            "title": "Falkenwerk baut KI-Rechenzentrum in Leipzig",
            "lang": "de",
            "date": "2026-02-03",
            "outlet": "Load Wire",
        },
        Probe("Wie viel investiert Falkenwerk in das Rechenzentrum in Leipzig?", "870 Millionen"),
    ),
    NewArticle(
        "load-qingshan",
        "青山数据公司周三表示，将为其杭州数据中心采购3,600台服务器，预计明年交付。\n\n"
        "公司未透露采购金额。",
        {
            "title": "青山数据将采购服务器",
            "lang": "zh",
            "date": "2026-02-04",
            "outlet": "Load Wire",
        },
        Probe("青山数据公司将采购多少台服务器？", "3,600"),
    ),
)


class LoadError(RagError):
    """A request that got no usable answer (refused, timed out, an error reply)."""


# ------------------------------------------------------------------ servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float | None:
    """Resident memory of process `pid` (VmRSS), None where /proc does not tell."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        return None
    return None


def _get_ok(url: str) -> bool:
    try:
        with _DIRECT.open(url, timeout=5) as response:
            return bool(response.status == 200)
    except (OSError, ValueError):
        return False


class Server:
    """A front end in its own process, its output in a log file; stopped by `stop()`."""

    def __init__(
        self, name: str, argv: list[str], env: dict[str, str], log: Path, cwd: Path | None = None
    ) -> None:
        self.name = name
        self.log = log
        self._out = log.open("w")
        self.proc = subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=self._out, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, url: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RagError(f"the {self.name} server exited ({self.proc.returncode}): "
                               f"{self.tail()}")  # fmt: skip
            if _get_ok(url):
                return
            time.sleep(0.2)
        raise RagError(f"the {self.name} server did not answer {url} in {timeout_s:.0f} s")

    def tail(self) -> str:
        lines = self.log.read_text(errors="replace").strip().splitlines()
        return lines[-1] if lines else "(no output)"

    def stop(self) -> None:
        processes.stop(self.proc, grace_s=20)
        self._out.close()


class Target(Protocol):
    name: str
    server: Server

    def ask(self, question: str, timeout_s: float) -> tuple[str, float]:
        """The answer text a reader sees, and the milliseconds the client waited."""


class WebTarget:
    """The chat page's `/ask` API over Gradio's HTTP interface (POST, then the event stream)."""

    name = "web"

    def __init__(self, server: Server, base_url: str) -> None:
        self.server = server
        self.base = base_url.rstrip("/")

    def ask(self, question: str, timeout_s: float) -> tuple[str, float]:
        started = time.perf_counter()
        body = json.dumps({"data": [question, "", 0]}).encode()
        request = urllib.request.Request(
            f"{self.base}/gradio_api/call/ask", data=body, method="POST",
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with _DIRECT.open(request, timeout=timeout_s) as response:
            event_id = json.loads(response.read())["event_id"]
        result = self._result(f"{self.base}/gradio_api/call/ask/{event_id}", timeout_s)
        ms = (time.perf_counter() - started) * 1000
        if not isinstance(result, dict) or "error" in result:
            raise LoadError(f"the page answered {str(result)[:200]}")
        return str(result["answer"]), ms

    @staticmethod
    def _result(url: str, timeout_s: float) -> Any:
        """The `complete` event's value from Gradio's server-sent event stream."""
        event = ""
        with _DIRECT.open(url, timeout=timeout_s) as stream:
            for raw in stream:
                line = raw.decode("utf-8").rstrip("\n")
                if line.startswith("event:"):
                    event = line.partition(":")[2].strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    data = json.loads(line.partition(":")[2])
                    if event == "error":
                        raise LoadError(f"the page's queue reported an error: {data}")
                    return data[0]
        raise LoadError("the page's event stream ended without a result")


class SlackTarget:
    """The bot's Events API: a signed app_mention per question, each in its own channel."""

    name = "slack"

    def __init__(self, server: Server, events_url: str, fake: slack_fake.FakeSlack) -> None:
        self.server = server
        self.url = events_url
        self.fake = fake

    def ask(self, question: str, timeout_s: float) -> tuple[str, float]:
        channel = slack_fake.new_channel()
        body = slack_fake.envelope(slack_fake.mention(channel, question))
        started = time.monotonic()
        status, text = slack_fake.send(self.url, body)
        if status != 200:
            raise LoadError(f"the bot answered HTTP {status}: {text[:200]}")
        try:
            reply = slack_fake.final_reply(self.fake, channel, timeout_s)
        except AssertionError:
            raise LoadError(f"no answer in {timeout_s:.0f} s") from None
        finally:
            self.fake.forget(channel)
        return slack_fake.shown_text(reply.params.get("blocks") or []), (reply.at - started) * 1000


# ------------------------------------------------------------------ measuring


@dataclass
class Outcome:
    """One question: correct (the figure and a citation shown), wrong, or an error."""

    target: str
    question: str
    ms: float | None
    correct: bool
    error: str | None
    start_s: float  # since the phase began
    end_s: float
    shown: str = ""  # the start of a wrong answer, to see what went wrong


def ask_once(target: Target, probe: Probe, timeout_s: float, t0: float) -> Outcome:
    start = time.monotonic()
    try:
        text, ms = target.ask(probe.question, timeout_s)
    except (OSError, ValueError, KeyError, RagError) as err:
        end = time.monotonic()
        return Outcome(target.name, probe.question, None, False,
                       f"{type(err).__name__}: {err}"[:300], start - t0, end - t0)  # fmt: skip
    end = time.monotonic()
    correct = probe.figure in text and "[1]" in text
    shown = "" if correct else " ".join(text.split())[:160]
    return Outcome(target.name, probe.question, round(ms, 1), correct, None, start - t0,
                   end - t0, shown)  # fmt: skip


def burst(
    targets: Sequence[Target], probes: Sequence[Probe], requests: int, concurrency: int,
    timeout_s: float, t0: float | None = None,
) -> list[Outcome]:  # fmt: skip
    """`requests` questions to each target, `concurrency` per target in flight at once."""
    t0 = time.monotonic() if t0 is None else t0
    jobs = [(t, probes[i % len(probes)]) for t in targets for i in range(requests)]
    with ThreadPoolExecutor(max_workers=concurrency * len(targets)) as pool:
        return list(pool.map(lambda job: ask_once(job[0], job[1], timeout_s, t0), jobs))


def summary(outcomes: Sequence[Outcome], wall_s: float) -> dict[str, Any]:
    from rag.evaluation.figure_set import percentile

    ms = [o.ms for o in outcomes if o.ms is not None and o.error is None]
    errors = [o for o in outcomes if o.error]
    return {
        "requests": len(outcomes),
        "correct": sum(o.correct for o in outcomes),
        "wrong": sum(1 for o in outcomes if not o.correct and not o.error),
        "errors": len(errors),
        "error_examples": sorted({o.error for o in errors if o.error})[:3],
        "wrong_examples": sorted({f"{o.question} -> {o.shown}" for o in outcomes if o.shown})[:3],
        "p50_ms": round(percentile(ms, 50), 1) if ms else None,
        "p95_ms": round(percentile(ms, 95), 1) if ms else None,
        "max_ms": round(max(ms), 1) if ms else None,
        "wall_s": round(wall_s, 2),
        "throughput_qps": round(len(outcomes) / wall_s, 2) if wall_s > 0 else None,
    }


def by_target(outcomes: Sequence[Outcome], wall_s: float) -> dict[str, dict[str, Any]]:
    names = sorted({o.target for o in outcomes}, key=lambda n: TARGETS.index(n))
    return {n: summary([o for o in outcomes if o.target == n], wall_s) for n in names}


def concurrent_phase(
    targets: Sequence[Target], requests: int, concurrency: int, timeout_s: float, say: Say
) -> dict[str, Any]:
    """Each target on its own: one question alone first (a server loads its language
    identifier and caches on the first question: reported as `first`, not in the
    percentiles), then `requests` questions, `concurrency` at once."""
    result = {}
    for target in targets:
        say(f"{target.name}: one question, then {requests} questions, {concurrency} at once")
        first = ask_once(target, SEED_PROBES[0], timeout_s, time.monotonic())
        t0 = time.monotonic()
        outcomes = burst([target], SEED_PROBES, requests, concurrency, timeout_s, t0)
        result[target.name] = summary(outcomes, time.monotonic() - t0)
        result[target.name]["rss_mb"] = rss_mb(target.server.pid)
        result[target.name]["first"] = asdict(first)
    return result


def write_new_articles(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for article in NEW_ARTICLES:
        (folder / f"{article.doc_id}.txt").write_text(article.text, encoding="utf-8")
        (folder / f"{article.doc_id}.meta.json").write_text(
            json.dumps(article.meta, ensure_ascii=False), encoding="utf-8"
        )
    return folder


def _watch_version(index_dir: Path, stop: threading.Event, swaps: list[float], t0: float) -> None:
    """Note when `CURRENT` names a new version (every 20 ms): the moment readers could see it."""
    from rag.stores.registry import live_version

    seen = live_version("faiss_bm25", index_dir)
    while not stop.wait(0.02):
        now = live_version("faiss_bm25", index_dir)
        if now != seen:
            swaps.append(time.monotonic() - t0)
            seen = now


def ingest_phase(
    targets: Sequence[Target], index_dir: Path, work: Path, requests: int, concurrency: int,
    timeout_s: float, say: Say,
) -> dict[str, Any]:  # fmt: skip
    """Waves of questions to every target while `rag ingest` adds NEW_ARTICLES in another
    process, one wave after it; then each new article's question to each target."""
    folder = write_new_articles(work / "new-articles")
    log = work / "ingest.log"
    say(f"ingest during load: rag ingest {len(NEW_ARTICLES)} articles, waves of {requests} "
        f"questions per target")  # fmt: skip
    stop = threading.Event()
    swaps: list[float] = []
    t0 = time.monotonic()
    watcher = threading.Thread(target=_watch_version, args=(index_dir, stop, swaps, t0))
    watcher.start()
    outcomes: list[Outcome] = []
    with log.open("w") as out:
        ingest = subprocess.Popen(
            [sys.executable, "-m", "rag.apps.cli", "ingest", str(folder), "--index",
             str(index_dir), "--quiet"], stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            while ingest.poll() is None:
                outcomes += burst(targets, SEED_PROBES, requests, concurrency, timeout_s, t0)
            ingest_s = time.monotonic() - t0
            outcomes += burst(targets, SEED_PROBES, requests, concurrency, timeout_s, t0)
        finally:  # interrupted: no ingest or watcher left running
            if ingest.poll() is None:
                ingest.kill()
                ingest.wait()
            stop.set()
            watcher.join()
    wall = time.monotonic() - t0
    if ingest.returncode != 0:
        raise RagError(f"rag ingest failed during the load run: {log.read_text()[-300:]}")
    swap = swaps[0] if swaps else None
    across = [o for o in outcomes if swap is not None and o.start_s <= swap <= o.end_s]
    during = [o for o in outcomes if o.start_s < ingest_s]
    pickup = [ask_once(t, a.probe, timeout_s, t0) for t in targets for a in NEW_ARTICLES]
    return {
        "articles": [a.doc_id for a in NEW_ARTICLES],
        "ingest_s": round(ingest_s, 2),
        "swap_at_s": round(swap, 2) if swap is not None else None,
        "all": by_target(outcomes, wall),
        "while_ingesting": by_target(during, ingest_s),
        "in_flight_at_swap": {
            "requests": len(across),
            "correct": sum(o.correct for o in across),
            "errors": sum(1 for o in across if o.error),
        },
        "pickup": [
            {
                "target": o.target,
                "question": o.question,
                "correct": o.correct,
                "ms": o.ms,
                "error": o.error,
            }
            for o in pickup
        ],
    }


def soak_phase(
    targets: Sequence[Target], duration_s: float, rate: float, concurrency: int,
    settings: LoadSettings, say: Say,
) -> dict[str, Any]:  # fmt: skip
    """Questions at `rate` a second (targets in turn) for `duration_s`, each server's memory
    sampled every `settings.rss_sample_s`."""
    say(f"soak: {duration_s:.0f} s at {rate} questions/s")
    samples: list[dict[str, Any]] = []
    stop = threading.Event()
    t0 = time.monotonic()

    def sample() -> None:
        samples.append({"t_s": round(time.monotonic() - t0, 1),
                        **{t.name: rss_mb(t.server.pid) for t in targets}})  # fmt: skip

    def sampler() -> None:
        sample()
        while not stop.wait(settings.rss_sample_s):
            sample()

    watcher = threading.Thread(target=sampler)
    watcher.start()
    futures = []
    try:
        with ThreadPoolExecutor(max_workers=concurrency * len(targets)) as pool:
            for i in range(int(duration_s * rate)):
                delay = t0 + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                target, probe = targets[i % len(targets)], SEED_PROBES[i % len(SEED_PROBES)]
                futures.append(pool.submit(ask_once, target, probe, settings.request_timeout_s, t0))
        wall = time.monotonic() - t0
    finally:
        stop.set()
        watcher.join()
    sample()
    outcomes = [f.result() for f in futures]
    result: dict[str, Any] = {"duration_s": duration_s, "rate_qps": rate, "samples": samples,
              "by_target": by_target(outcomes, wall)}  # fmt: skip
    for target in targets:
        series = [s[target.name] for s in samples if s[target.name] is not None]
        row = result["by_target"][target.name]
        row["rss_start_mb"] = series[0] if series else None
        row["rss_end_mb"] = series[-1] if series else None
        row["rss_max_mb"] = max(series) if series else None
        row["rss_growth_mb"] = round(series[-1] - series[0], 1) if series else None
    return result


# ------------------------------------------------------------------ the run


@dataclass
class Options:
    requests: int = 20
    concurrency: int = 20
    duration_s: float = 0.0
    rate: float = 2.0
    targets: tuple[str, ...] = TARGETS
    with_ingest: bool = False
    index: Path | None = None
    out: Path | None = None
    progress: bool = True
    settings: LoadSettings = field(default_factory=LoadSettings)


def parse_targets(spec: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(p.strip() for p in spec.split(",") if p.strip()))
    unknown = [n for n in names if n not in TARGETS]
    if unknown or not names:
        raise InputError(f"--targets takes {','.join(TARGETS)} (or one of them), not {spec!r}")
    return names


def check(options: Options) -> None:
    if options.requests < 1 or options.concurrency < 1:
        raise InputError("--requests and --concurrency must be at least 1")
    if options.duration_s < 0 or options.rate <= 0:
        raise InputError("--duration must be 0 (no soak) or more, and --rate more than 0")
    if options.index is not None and not (options.index / "CURRENT").is_file():
        raise InputError(f"no index at {options.index}: give a folder `rag ingest` wrote")


def _prepare_index(options: Options, work: Path, say: Say) -> Path:
    """A private copy of --index (the ingest phase writes to it), or the seed corpus indexed."""
    from rag.evaluation.reports import shipped

    index_dir = work / "index"
    if options.index is not None:
        shutil.copytree(options.index, index_dir)
        return index_dir
    say("indexing the seed corpus")
    done = subprocess.run(
        [sys.executable, "-m", "rag.apps.cli", "ingest", str(shipped("corpus")), "--index",
         str(index_dir), "--quiet"], capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        raise RagError(f"indexing the seed corpus failed: {done.stderr.strip()[-300:]}")
    return index_dir


def _start(
    names: Sequence[str], index_dir: Path, work: Path, fake: slack_fake.FakeSlack,
    settings: LoadSettings, say: Say,
) -> list[Target]:  # fmt: skip
    env = child_environment({
        "SLACK_BOT_TOKEN": "xoxb-load-test", "SLACK_SIGNING_SECRET": slack_fake.SECRET,
        "SLACK_API_BASE_URL": fake.base_url, "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost", "GRADIO_ANALYTICS_ENABLED": "False",
    }, drop=("SLACK_", "RAG_WEB_AUTH", "RAG_LLM"))  # fmt: skip
    targets: list[Target] = []
    try:
        for name in names:
            port = free_port()
            say(f"starting the {name} server on port {port}")
            if name == "web":
                server = Server(name, [sys.executable, "-c",
                                       "import sys; from rag.apps.web import main; main(sys.argv[1:])",
                                       "--port", str(port), "--index", str(index_dir), "--llm",
                                       "extractive"], env, work / "web.log")  # fmt: skip
                base = f"http://127.0.0.1:{port}"
                targets.append(WebTarget(server, base))
                server.wait_ready(f"{base}/gradio_api/info", settings.start_timeout_s)
            else:
                server = Server(name, [sys.executable, "-m", "rag.apps.cli", "slack", "--index",
                                       str(index_dir), "--port", str(port), "--llm",
                                       "extractive"], env, work / "slack.log")  # fmt: skip
                events = f"http://127.0.0.1:{port}{'/slack/events'}"
                targets.append(SlackTarget(server, events, fake))
                server.wait_ready(f"http://127.0.0.1:{port}/healthz", settings.start_timeout_s)
    except BaseException:
        for target in targets:
            target.server.stop()
        raise
    return targets


def run(options: Options, work: Path) -> dict[str, Any]:
    """Every phase the options ask for, against servers started (and stopped) here."""
    from rag.evaluation import reports

    check(options)
    say: Say = (lambda m: print(m, file=sys.stderr, flush=True)) if options.progress else (
        lambda m: None)  # fmt: skip
    settings = options.settings
    index_dir = _prepare_index(options, work, say)
    result: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": reports.machine(),
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
        "options": {
            k: (str(v) if isinstance(v, Path) else v)
            for k, v in asdict(options).items()
            if k != "settings"
        },
        "probes": [asdict(p) for p in SEED_PROBES],
    }
    fake = slack_fake.FakeSlack(free_port(), keep_log=False)
    with slack_fake.serve(fake):
        targets = _start(options.targets, index_dir, work, fake, settings, say)
        try:
            result["rss_ready_mb"] = {t.name: rss_mb(t.server.pid) for t in targets}
            timeout = settings.request_timeout_s
            result["concurrent"] = concurrent_phase(
                targets, options.requests, options.concurrency, timeout, say
            )
            if options.with_ingest:
                result["ingest"] = ingest_phase(targets, index_dir, work, options.requests,
                                                options.concurrency, timeout, say)  # fmt: skip
            if options.duration_s > 0:
                result["soak"] = soak_phase(targets, options.duration_s, options.rate,
                                            options.concurrency, settings, say)  # fmt: skip
            result["rss_end_mb"] = {t.name: rss_mb(t.server.pid) for t in targets}
        finally:
            for target in targets:
                target.server.stop()
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    return result


def main(options: Options) -> tuple[Path, dict[str, Any]]:
    """Run, then write `report.json` and `report.md` under the reports folder and print it."""
    from rag.evaluation import reports

    check(options)
    with tempfile.TemporaryDirectory(prefix="rag-load-") as tmp:
        result = run(options, Path(tmp))
    folder = reports.new_report_dir(options.out, kind="load")
    reports.write_json(folder / "report.json", result)
    (folder / "report.md").write_text(render(result), encoding="utf-8")
    print(render(result))
    return folder, result


# ------------------------------------------------------------------ the report

HEADER = ["target", "requests", "correct", "wrong", "errors", "p50 ms", "p95 ms", "max ms",
          "wall s", "questions/s"]  # fmt: skip


def _ms(value: float | None) -> str | None:
    return None if value is None else f"{value:.0f}"


def _row(name: str, s: dict[str, Any]) -> list[Any]:
    return [name, s["requests"], s["correct"], s["wrong"], s["errors"], _ms(s["p50_ms"]),
            _ms(s["p95_ms"]), _ms(s["max_ms"]), f"{s['wall_s']:.1f}",
            f"{s['throughput_qps']:.2f}"]  # fmt: skip


def _errors(rows: dict[str, dict[str, Any]]) -> list[str]:
    """Up to three examples of each target's errors and wrong answers, under its table."""
    lines = [f"- {name} error: {e}" for name, s in rows.items() for e in s["error_examples"]]
    lines += [f"- {name} wrong: {w}" for name, s in rows.items() for w in s["wrong_examples"]]
    return ["", *lines] if lines else []


def render(r: dict[str, Any]) -> str:
    from rag.evaluation.reports import md_table

    o = r["options"]
    lines = [
        "# Load: the page's /ask API and the Slack bot",
        "",
        f"{r['machine']}; {r['started']}; load average at start {r['load_average_start']}, at "
        f"end {r['load_average_end']} (other processes on the machine share the CPU). Each "
        "server in its own process, extractive answerer, on loopback; Slack's side is the fake "
        "Web API of rag/evaluation/slack_fake.py. A correct answer shows the expected figure "
        "and a citation.",
        "",
        f"## {o['requests']} questions per target, {o['concurrency']} at once",
        "",
        md_table(HEADER, [_row(n, s) for n, s in r["concurrent"].items()]),
        *_errors(r["concurrent"]),
        "",
        "The first question to each server, alone, before these: "
        + ", ".join(
            f"{n} {_ms(s['first']['ms'])} ms ({'correct' if s['first']['correct'] else 'NOT correct'})"
            for n, s in r["concurrent"].items()
        )
        + ".",
        "",
        "Server memory (VmRSS, MB) when ready: "
        + ", ".join(f"{n} {v}" for n, v in r["rss_ready_mb"].items())
        + "; after this phase: "
        + ", ".join(f"{n} {s['rss_mb']}" for n, s in r["concurrent"].items())
        + ".",
    ]
    if "ingest" in r:
        lines += _render_ingest(r["ingest"])
    if "soak" in r:
        lines += _render_soak(r["soak"])
    lines += ["", "Memory at the end (MB): " + ", ".join(
        f"{n} {v}" for n, v in r["rss_end_mb"].items()) + "."]  # fmt: skip
    return "\n".join(lines) + "\n"


def _render_ingest(i: dict[str, Any]) -> list[str]:
    from rag.evaluation.reports import md_table

    flight = i["in_flight_at_swap"]
    picked = [[p["target"], p["question"], "yes" if p["correct"] else "NO", _ms(p["ms"]),
               p["error"] or ""] for p in i["pickup"]]  # fmt: skip
    return [
        "",
        f"## During `rag ingest` of {len(i['articles'])} new articles in another process",
        "",
        f"The ingest took {i['ingest_s']} s from its start; the index's CURRENT pointer moved "
        f"to the new version at {i['swap_at_s']} s. Questions in flight at that moment: "
        f"{flight['requests']}, correct {flight['correct']}, errors {flight['errors']}.",
        "",
        "While the ingest ran:",
        "",
        md_table(HEADER, [_row(n, s) for n, s in i["while_ingesting"].items()]),
        *_errors(i["while_ingesting"]),
        "",
        "Whole phase (with one wave after the ingest):",
        "",
        md_table(HEADER, [_row(n, s) for n, s in i["all"].items()]),
        *_errors(i["all"]),
        "",
        "After the ingest, without a restart, a question only a new article answers:",
        "",
        md_table(["target", "question", "answered from the new article", "ms", "error"], picked),
    ]


def _render_soak(s: dict[str, Any]) -> list[str]:
    from rag.evaluation.reports import md_table

    header = [*HEADER, "RSS start MB", "RSS end MB", "RSS max MB", "growth MB"]
    rows = [[*_row(n, t), t["rss_start_mb"], t["rss_end_mb"], t["rss_max_mb"], t["rss_growth_mb"]]
            for n, t in s["by_target"].items()]  # fmt: skip
    return [
        "",
        f"## Soak: {s['duration_s']:.0f} s at {s['rate_qps']} questions/s (targets in turn)",
        "",
        md_table(header, rows),
        *_errors(s["by_target"]),
        "",
        f"Memory sampled {len(s['samples'])} times (every sample is in report.json).",
    ]
