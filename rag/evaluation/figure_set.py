"""`rag eval`: the figure eval set run against an index and one or more answerers.

The metrics read only the answer's public fields (`citations`, `figures`, and `sentences` when an
answerer provides per-sentence support flags), so a new answerer is measured by naming it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rag.answerers.base import Answerer
from rag.checks.figures import matches
from rag.errors import InputError
from rag.evaluation import diagnosis
from rag.evaluation.reports import shipped
from rag.service import RAG

DEFAULT_SET = shipped("eval/figures.jsonl")
DEFAULT_THRESHOLDS = shipped("eval/thresholds.json")
RETRIEVAL_K = (1, 3, 6)
STAGES = ("embed", "search", "answer", "verify", "total")


@dataclass(frozen=True)
class EvalItem:
    id: str
    q: str
    lang: str
    answerable: bool
    sources: tuple[str, ...]
    figures: tuple[dict[str, Any], ...]
    match: str = "any"
    tags: tuple[str, ...] = ()


def load_eval_set(path: Path) -> list[EvalItem]:
    """Read the JSONL set; a malformed line is reported with its number."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise InputError(f"cannot read eval set {path}: {err.strerror}") from None
    items, seen = [], set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            item = EvalItem(
                id=str(row["id"]),
                q=str(row["q"]),
                lang=str(row["lang"]),
                answerable=bool(row["answerable"]),
                sources=tuple(row.get("sources", [])),
                figures=tuple(row.get("figures", [])),
                match=str(row.get("match", "any")),
                tags=tuple(row.get("tags", [])),
            )
        except (ValueError, KeyError, TypeError) as err:
            raise InputError(f"{path}:{number}: not a valid eval item ({err})") from None
        if item.id in seen:
            raise InputError(f"{path}:{number}: duplicate id {item.id!r}")
        if item.match not in ("any", "all"):
            raise InputError(f"{path}:{number}: match must be 'any' or 'all', not {item.match!r}")
        if item.answerable and not (item.sources and item.figures):
            raise InputError(f"{path}:{number}: an answerable item needs sources and figures")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise InputError(f"eval set {path} has no questions")
    return items


@dataclass
class Record:
    """One question's outcome under one answerer."""

    id: str
    q: str
    lang: str
    article_lang: str
    answerable: bool
    tags: list[str]
    answer: str
    abstained: bool
    cited_docs: list[str]
    figures: list[dict[str, Any]]
    figure_correct: bool
    correct_citations: int
    retrieved_docs: list[str]
    timings_ms: dict[str, float]
    unsupported_sentences: int | None = None
    sentences: int | None = None
    sources: list[str] = field(default_factory=list)
    confidence: float | None = None


def _article_lang(item: EvalItem, rag: RAG) -> str:
    langs = sorted({rag.index.article(d).lang for d in item.sources if d in rag.index.doc_ids()})
    if not langs:
        return "none"
    return langs[0] if len(langs) == 1 else "+".join(langs)


def _figure_correct(item: EvalItem, figures: list[dict[str, Any]]) -> bool:
    """Expected typed value(s) present in the answer and supported by the passage cited."""
    from rag.checks.figures import Figure

    supported = [
        Figure(f["text"], f["value"], f["unit"], f["kind"], 0, 0, f.get("high"))
        for f in figures
        if f["supported"]
    ]
    found = [any(matches(expected, fig) for fig in supported) for expected in item.figures]
    return all(found) if item.match == "all" else any(found)


def evaluate_item(
    rag: RAG, item: EvalItem, retrieval_depth: int, answerer: Answerer | None = None
) -> Record:
    """One question answered by `answerer` (the RAG's own by default) and scored."""
    for d in item.sources:
        if d not in rag.index.doc_ids():
            raise InputError(
                f"eval item {item.id} cites {d!r}, which is not in the index at {rag.index.location}"
            )
    result = rag.ask(item.q, answerer=answerer)
    data = result.to_dict()
    hits = rag.search(item.q, k=retrieval_depth).hits
    retrieved = [h.chunk.doc_id for h in hits]
    cited = [c["doc_id"] for c in data["citations"]]
    sentences = data.get("sentences")
    return Record(
        id=item.id,
        q=item.q,
        lang=item.lang,
        article_lang=_article_lang(item, rag),
        answerable=item.answerable,
        tags=list(item.tags),
        answer=data["answer"],
        abstained=data["abstained"],
        cited_docs=cited,
        figures=data.get("figures", []),
        figure_correct=(
            item.answerable and not data["abstained"] and _figure_correct(item, data["figures"])
        ),
        correct_citations=sum(d in item.sources for d in cited),
        retrieved_docs=retrieved,
        timings_ms=data["timings_ms"],
        unsupported_sentences=(
            sum(not s.get("supported", True) for s in sentences) if sentences else None
        ),
        sentences=len(sentences) if sentences else None,
        sources=list(item.sources),
        confidence=data.get("confidence"),
    )


def _rank_of_source(record: Record, sources: Sequence[str]) -> int | None:
    for rank, doc in enumerate(record.retrieved_docs, start=1):
        if doc in sources:
            return rank
    return None


def _ratio(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile: the value a user waits at most that often."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summarise(records: Sequence[Record], items: Sequence[EvalItem]) -> dict[str, Any]:
    by_id = {i.id: i for i in items}
    answerable = [r for r in records if r.answerable]
    unanswerable = [r for r in records if not r.answerable]
    answered = [r for r in answerable if not r.abstained]
    cross = [r for r in answerable if r.lang not in r.article_lang.split("+")]
    same = [r for r in answerable if r.lang in r.article_lang.split("+")]
    citations = sum(len(r.cited_docs) for r in answered)
    abstained = [r for r in records if r.abstained]
    figures = [f for r in records if not r.abstained for f in r.figures]
    with_sentences = [r for r in records if r.sentences]
    recall_at = {}
    for k in RETRIEVAL_K:
        hits = [
            (rank := _rank_of_source(r, by_id[r.id].sources)) is not None and rank <= k
            for r in answerable
        ]
        recall_at[f"recall@{k}"] = _ratio(sum(hits), len(hits))
    return {
        "questions": len(records),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "figure_accuracy": _ratio(sum(r.figure_correct for r in answerable), len(answerable)),
        "figure_accuracy_same_language": _ratio(sum(r.figure_correct for r in same), len(same)),
        "figure_accuracy_cross_lingual": _ratio(sum(r.figure_correct for r in cross), len(cross)),
        "answered": len(answered),
        "citation_precision": _ratio(sum(r.correct_citations for r in answered), citations),
        "citation_recall": _ratio(sum(r.correct_citations > 0 for r in answered), len(answered)),
        "abstention_precision": _ratio(sum(not r.answerable for r in abstained), len(abstained)),
        "abstention_recall": _ratio(sum(r.abstained for r in unanswerable), len(unanswerable)),
        "retrieval": recall_at,
        "figures_checked": len(figures),
        "figures_unsupported": _ratio(sum(not f["supported"] for f in figures), len(figures)),
        "sentences_unsupported": _ratio(
            sum(r.unsupported_sentences or 0 for r in with_sentences),
            sum(r.sentences or 0 for r in with_sentences),
        ),
        "latency_ms": {
            stage: {
                "p50": round(percentile(values, 50), 2),
                "p95": round(percentile(values, 95), 2),
            }
            for stage in STAGES
            if (values := [r.timings_ms[stage] for r in records if stage in r.timings_ms])
        },
    }


def breakdown(records: Sequence[Record], key: Callable[[Record], str]) -> dict[str, Any]:
    """Figure accuracy of answerable questions grouped by `key`: {group: [correct, total]}."""
    table: dict[str, list[int]] = {}
    for r in records:
        if r.answerable:
            cell = table.setdefault(key(r), [0, 0])
            cell[0] += r.figure_correct
            cell[1] += 1
    return table


def _whole(record: Record) -> str:
    return "all"


@dataclass
class AnswererRun:
    answerer: str
    records: list[Record]
    summary: dict[str, Any] = field(default_factory=dict)

    def recall_at_1_by_pair(self) -> dict[str, list[int]]:
        """{question language→article language: [top chunk from a source, answerable]}."""
        table: dict[str, list[int]] = {}
        for r in self.records:
            if r.answerable:
                cell = table.setdefault(f"{r.lang}→{r.article_lang}", [0, 0])
                cell[0] += bool(r.retrieved_docs) and r.retrieved_docs[0] in r.sources
                cell[1] += 1
        return table

    def diagnosis(self) -> dict[str, dict[str, int]]:
        """Per question language → article language: right, or why not (diagnosis.OUTCOMES)."""
        return diagnosis.tally(diagnosis.figure_set_rows(self.records))

    def to_dict(self) -> dict[str, Any]:
        return {
            "answerer": self.answerer,
            "summary": self.summary,
            "by_question_lang": breakdown(self.records, lambda r: r.lang),
            "by_lang_pair": breakdown(self.records, lambda r: f"{r.lang}→{r.article_lang}"),
            "recall@1_by_lang_pair": self.recall_at_1_by_pair(),
            "diagnosis": self.diagnosis(),
            "by_tag": {
                tag: cell
                for tag in sorted({t for r in self.records for t in r.tags})
                for cell in breakdown([r for r in self.records if tag in r.tags], _whole).values()
            },
            "records": [asdict(r) for r in self.records],
        }


def run_eval(
    rag: RAG,
    items: Sequence[EvalItem],
    answerer: str,
    progress: bool = True,
    retrieval_depth: int = max(RETRIEVAL_K),
) -> AnswererRun:
    from tqdm import tqdm

    from rag.answerers.registry import get_answerer

    measured = get_answerer(answerer, settings=rag.settings)
    records = [
        evaluate_item(rag, item, retrieval_depth, measured)
        for item in tqdm(items, desc=f"eval {answerer}", unit="q", disable=not progress)
    ]
    run = AnswererRun(answerer, records)
    run.summary = summarise(records, items)
    return run


# ------------------------------------------------------------------ thresholds (the CI gate)


def load_thresholds(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read thresholds {path}: {err}") from None
    return data


def gate(summary: dict[str, Any], minimums: dict[str, float]) -> list[str]:
    """The metrics below their committed minimum, as readable lines (empty: the gate passes)."""
    failures = []
    for metric, minimum in minimums.items():
        if metric.startswith("_"):
            continue  # a comment
        value: Any = summary
        for part in metric.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            failures.append(f"{metric}: not measured (minimum {minimum})")
        elif value < minimum:
            failures.append(f"{metric}: {value} < minimum {minimum}")
    return failures


# ------------------------------------------------------------------ the report

QUESTION_LANGS = ("en", "es", "de", "zh", "fr")


def write_report(folder: Path, runs: Sequence[AnswererRun], meta: dict[str, Any]) -> list[Path]:
    """report.json, report.md and one accuracy grid per answerer plus a latency histogram."""
    from rag.evaluation import reports

    written = [folder / "report.json", folder / "report.md"]
    reports.write_json(folder / "report.json", {"meta": meta, "runs": [r.to_dict() for r in runs]})
    lines = [
        f"# Figure eval: {meta['set']} ({meta['questions']} questions)",
        "",
        f"Index `{meta['index']}` ({meta['documents']} documents, embedder `{meta['embedder']}`), "
        f"run {meta['started']} on {meta['machine']}.",
        "",
        "## Summary",
        "",
        _summary_table(runs),
        "",
        "## Latency per stage (ms)",
        "",
        _latency_table(runs),
    ]
    for run in runs:
        grid = folder / f"accuracy-{run.answerer}.png"
        _accuracy_grid(grid, run)
        written.append(grid)
        lines += ["", f"## {run.answerer}: figure accuracy by language", "", _lang_table(run)]
        lines += ["", f"## {run.answerer}: where the answers go wrong", "",
                  diagnosis.markdown(run.diagnosis())]  # fmt: skip
        lines += ["", f"![accuracy grid]({grid.name})", "", _misses(run)]
    hist = folder / "latency.png"
    reports.histogram(
        hist,
        "Answer latency (warm, per question)",
        {r.answerer: [x.timings_ms.get("total", 0.0) for x in r.records] for r in runs},
        "total ms (embed + search + answer + verify)",
    )
    written.append(hist)
    lines += ["", "![latency histogram](latency.png)", ""]
    (folder / "report.md").write_text("\n".join(lines), encoding="utf-8")
    return written


def _summary_table(runs: Sequence[AnswererRun]) -> str:
    from rag.evaluation.reports import md_table

    keys = [
        ("figure accuracy", "figure_accuracy"),
        ("citation precision", "citation_precision"),
        ("citation recall", "citation_recall"),
        ("abstention precision", "abstention_precision"),
        ("abstention recall", "abstention_recall"),
        ("figures unsupported", "figures_unsupported"),
        ("sentences unsupported", "sentences_unsupported"),
    ]
    rows: list[list[Any]] = [[label] + [r.summary.get(key) for r in runs] for label, key in keys]
    rows += [
        [f"retrieval {k}"] + [r.summary["retrieval"].get(k) for r in runs]
        for k in runs[0].summary["retrieval"]
    ]
    rows.append(["answered / answerable"] + [
        f"{r.summary['answered']}/{r.summary['answerable']}" for r in runs
    ])  # fmt: skip
    return md_table(["metric", *[r.answerer for r in runs]], rows)


def _latency_table(runs: Sequence[AnswererRun]) -> str:
    from rag.evaluation.reports import md_table

    rows = []
    for run in runs:
        for stage, q in run.summary["latency_ms"].items():
            rows.append([run.answerer, stage, q["p50"], q["p95"]])
    return md_table(["answerer", "stage", "p50", "p95"], rows)


def _lang_table(run: AnswererRun) -> str:
    from rag.evaluation.reports import md_table

    data = run.to_dict()
    rows = [
        [lang, f"{c}/{n}", round(c / n, 3)] for lang, (c, n) in data["by_question_lang"].items()
    ]
    rows += [[f"tag: {tag}", f"{c}/{n}", round(c / n, 3)] for tag, (c, n) in data["by_tag"].items()]
    answerable = [r for r in run.records if r.answerable]
    cross = [r for r in answerable if r.lang not in r.article_lang.split("+")]
    same = [r for r in answerable if r not in cross]
    recall = data["recall@1_by_lang_pair"]
    for pair, (c, n) in sorted(data["by_lang_pair"].items()):
        r1, _ = recall.get(pair, (0, n))
        rows.append([f"pair {pair} (recall@1 {r1}/{n})", f"{c}/{n}", round(c / n, 3)])
    for label, group in (("same language as a source", same), ("cross-lingual", cross)):
        if group:
            ok = sum(r.figure_correct for r in group)
            rows.append([label, f"{ok}/{len(group)}", round(ok / len(group), 3)])
    return md_table(["question language", "correct", "accuracy"], rows)


def _accuracy_grid(path: Path, run: AnswererRun) -> None:
    from rag.evaluation.reports import heatmap

    cells: dict[tuple[str, str], list[int]] = {}
    for r in run.records:
        if r.answerable:
            cell = cells.setdefault((r.lang, r.article_lang), [0, 0])
            cell[0] += r.figure_correct
            cell[1] += 1
    rows = [lang for lang in QUESTION_LANGS if any(k[0] == lang for k in cells)]
    rows += sorted({k[0] for k in cells} - set(rows))
    cols = sorted({k[1] for k in cells}, key=lambda c: (len(c), c))
    values = {k: (c / n, f"{c}/{n}") for k, (c, n) in cells.items()}
    heatmap(
        path, f"{run.answerer}: figure accuracy, question × article language", rows, cols, values
    )


def _misses(run: AnswererRun) -> str:
    lines = ["<details><summary>Questions answered wrongly</summary>", ""]
    for r in run.records:
        right = r.figure_correct if r.answerable else r.abstained
        if not right:
            answer = " ".join(r.answer.split())[:160]
            lines.append(f"- `{r.id}` {r.q} → {answer}")
    lines += ["", "</details>"]
    return "\n".join(lines)


def evaluate(
    rag: RAG,
    set_path: Path,
    answerers: Sequence[str],
    out_root: Path | None = None,
    progress: bool = True,
) -> tuple[Path, list[AnswererRun]]:
    """Run the set under each answerer and write the report; returns its folder and the runs."""
    from rag.evaluation import reports

    items = load_eval_set(set_path)
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    runs = [run_eval(rag, items, name, progress) for name in answerers]
    folder = reports.new_report_dir(out_root)
    meta = {
        "set": str(set_path),
        "questions": len(items),
        "index": rag.index.location,
        "documents": len(rag.index.doc_ids()),
        "embedder": rag.index.embedder_id,
        "answerers": list(answerers),
        "started": started,
        "machine": reports.machine(),
    }
    write_report(folder, runs, meta)
    return folder, runs
