"""The conflict decision measured on labelled figure pairs (`eval/conflicts/*.jsonl`).

Each pair is two sentences from two articles, each with the figure compared, labelled a true
conflict (the same quantity given differently), a look-alike (per unit vs total, another period,
another subject, forecast vs actual, another measure) or an agreement. The decision is scored
as the product makes it (`quantities.conflicts`) and, for the before/after table, as it was
made before (same unit and kind, different value).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.answerers import quantities
from rag.checks.figures import Figure, extract
from rag.errors import InputError

CATEGORIES = ("true_conflict", "per_unit_vs_total", "different_period", "different_subject",
              "forecast_vs_actual", "different_measure", "agree")  # fmt: skip


@dataclass
class PairResult:
    id: str
    category: str
    cross: bool
    conflict: bool  # the label
    predicted: bool
    before: bool  # the unit-only rule
    agrees: bool  # predicted corroboration
    reason: str | None  # why they were told apart, if they were


@dataclass
class PairReport:
    results: list[PairResult] = field(default_factory=list)

    def scores(self, predicted: str = "predicted", cross: bool | None = None) -> dict[str, Any]:
        rows = [r for r in self.results if cross is None or r.cross == cross]
        said = [getattr(r, predicted) for r in rows]
        tp = sum(1 for r, p in zip(rows, said, strict=True) if p and r.conflict)
        fp = sum(1 for r, p in zip(rows, said, strict=True) if p and not r.conflict)
        fn = sum(1 for r, p in zip(rows, said, strict=True) if not p and r.conflict)
        return {
            "pairs": len(rows),
            "precision": tp / (tp + fp) if tp + fp else 1.0,
            "recall": tp / (tp + fn) if tp + fn else 1.0,
            "true_positives": tp, "false_positives": fp, "false_negatives": fn,
        }  # fmt: skip

    def by_category(self) -> dict[str, dict[str, int]]:
        """Per category: pairs, called conflicts now and before, and agreements found."""
        out: dict[str, dict[str, int]] = {}
        for r in self.results:
            row = out.setdefault(r.category, Counter())
            row["pairs"] += 1
            row["called_conflict"] += r.predicted
            row["called_conflict_before"] += r.before
            row["called_agree"] += r.agrees
        return {k: dict(v) for k, v in out.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "now": self.scores(), "before": self.scores("before"),
            "same_language": self.scores(cross=False), "cross_language": self.scores(cross=True),
            "by_category": self.by_category(),
            "errors": [vars(r) for r in self.results if r.predicted != r.conflict],
        }  # fmt: skip


def load_pairs(path: Path) -> list[dict[str, Any]]:
    try:
        pairs = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(f"cannot read the pair set {path}: {err}") from err
    for p in pairs:
        if p.get("category") not in CATEGORIES:
            raise InputError(f"{path}: pair {p.get('id')} has an unknown category; known: "
                             f"{', '.join(CATEGORIES)}")  # fmt: skip
    return pairs


def evaluate(path: Path) -> PairReport:
    report = PairReport()
    for pair in load_pairs(path):
        a, b = (_side(pair, key) for key in ("a", "b"))
        report.results.append(
            PairResult(
                id=pair["id"],
                category=pair["category"],
                cross=pair["a"]["lang"] != pair["b"]["lang"],
                conflict=bool(pair["conflict"]),
                predicted=quantities.conflicts(a, b),
                before=_unit_rule(a.figure, b.figure),
                agrees=quantities.agrees(a, b),
                reason=quantities.difference(a, b),
            )
        )
    return report


def _side(pair: dict[str, Any], key: str) -> quantities.Reported:
    side = pair[key]
    figure = _figure(side["sentence"], side["figure"], side["lang"], pair["id"])
    return quantities.reported(
        figure, side["sentence"], side["lang"], side.get("title", ""), side.get("date")
    )


def _figure(sentence: str, written: str, lang: str, pair_id: str) -> Figure:
    """The parsed figure that the pair's `figure` text marks in the sentence."""
    start = sentence.find(written)
    if start < 0:
        raise InputError(f"pair {pair_id}: {written!r} is not in its sentence")
    end = start + len(written)
    for fig in extract(sentence, lang):
        if fig.kind not in ("year", "date") and fig.start < end and fig.end > start:
            return fig
    raise InputError(f"pair {pair_id}: no figure parsed in {written!r}")


def _unit_rule(a: Figure, b: Figure) -> bool:
    """The decision before: any two figures of one unit and kind with different values."""
    return a.unit == b.unit and a.kind == b.kind and not a.covers(b) and not b.covers(a)
