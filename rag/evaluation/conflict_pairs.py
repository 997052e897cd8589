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
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from rag.answerers import quantities
from rag.answerers.logistic import fit_logistic
from rag.checks.figures import Figure, extract
from rag.errors import InputError

PAIR_DIR = Path(__file__).resolve().parents[2] / "eval" / "conflicts"
REPORTS = Path(__file__).resolve().parents[2] / "eval" / "reports"
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


def evaluate(path: Path, model: quantities.QuantityModel | None = None) -> PairReport:
    report = PairReport()
    for pair, a, b in _read(path):
        report.results.append(
            PairResult(
                id=pair["id"],
                category=pair["category"],
                cross=pair["a"]["lang"] != pair["b"]["lang"],
                conflict=bool(pair["conflict"]),
                predicted=quantities.conflicts(a, b, model),
                before=_unit_rule(a.figure, b.figure),
                agrees=quantities.agrees(a, b, model),
                reason=quantities.difference(a, b, model),
            )
        )
    return report


def _read(path: Path) -> list[tuple[dict[str, Any], quantities.Reported, quantities.Reported]]:
    return [(pair, _side(pair, "a"), _side(pair, "b")) for pair in load_pairs(path)]


# ------------------------------------------------------------------ fitting the model

PRECISION = 0.9  # stated precision of the conflict decision, where the threshold is set
L2 = 1.0


def fit(paths: Sequence[Path], precision: float = PRECISION) -> quantities.QuantityModel:
    """The quantity model fitted on the pairs of `paths`: a true conflict and an agreement
    are one quantity, every look-alike is two. Only pairs of one unit and answer type are
    learned from, since the others are told apart before the model is asked. The threshold
    is set on out-of-set probabilities (each set scored by a model fitted on the others), so
    it is chosen for pairs of unseen topics, not for pairs the weights were fitted on."""
    model = _fit_weights(paths, precision)
    if len(paths) < 2:
        return replace(model, threshold=_threshold([(model, p) for p in paths], precision))
    folds = [(_fit_weights([q for q in paths if q != p], precision), p) for p in paths]
    return replace(model, threshold=_threshold(folds, precision))


def _fit_weights(paths: Sequence[Path], precision: float) -> quantities.QuantityModel:
    rows = [row for path in paths for row in _read(path)]
    fitted = [(pair, a, b) for pair, a, b in rows if _comparable(a, b)]
    if not fitted:
        raise InputError("no comparable figure pairs to fit the quantity model on")
    x = np.array([quantities.features(a, b) for _, a, b in fitted])
    y = np.array([pair["category"] in SAME_QUANTITY for pair, _, _ in fitted], dtype=float)
    mean, scale, weights, bias = fit_logistic(x, y, L2)
    return quantities.QuantityModel(
        tuple(mean.tolist()), tuple(scale.tolist()), tuple(weights.tolist()), bias, 0.5,
        tuple(p.stem for p in paths), precision,
    )  # fmt: skip


SAME_QUANTITY = ("true_conflict", "agree")


def _comparable(a: quantities.Reported, b: quantities.Reported) -> bool:
    return quantities.same_quantity_probability(a, b, _ANY) > 0.0


# A model that takes every comparable pair for one quantity: asks only the unit gate.
_ANY = quantities.QuantityModel((0.0,) * len(quantities.FEATURES),
                                (1.0,) * len(quantities.FEATURES),
                                (0.0,) * len(quantities.FEATURES), 10.0, 0.5)  # fmt: skip


def _threshold(folds: Sequence[tuple[quantities.QuantityModel, Path]], precision: float) -> float:
    """The lowest threshold at which the conflict decision on the pairs (each scored by its
    fold's model) reaches `precision`, or the most precise one when none does: recall is
    kept where it is free."""
    scored = [(quantities.same_quantity_probability(a, b, model), bool(pair["conflict"]))
              for model, path in folds for pair, a, b in _read(path)
              if not quantities.same_value(a.figure, b.figure)]  # fmt: skip
    best = (0.0, 0.5)
    for t in sorted({p for p, _ in scored if p > 0.0}):
        said = [c for p, c in scored if p >= t]
        reached = sum(said) / len(said)
        if reached >= precision:
            return t
        best = max(best, (reached, t))
    return best[1]


def leave_one_set_out(paths: Sequence[Path]) -> dict[str, PairReport]:
    """Each set scored by a model fitted on the others: what the decision does on pairs of
    topics it has not seen."""
    return {held.stem: evaluate(held, fit([p for p in paths if p != held])) for held in paths}


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


def default_sets() -> list[Path]:
    found = sorted(PAIR_DIR.glob("*.jsonl"))
    if not found:
        raise InputError(f"no pair sets in {PAIR_DIR}; name one: rag eval-conflicts FILE.jsonl")
    return found


def table(reports: dict[str, PairReport], errors: bool = False) -> list[str]:
    """Per set: precision and recall now and with the unit-only rule before, then per
    category how often it was called a conflict (and, for agreements, agreeing)."""
    lines = ["set          pairs  precision  recall  | before: precision  recall"]
    for name, report in reports.items():
        now, before = report.scores(), report.scores("before")
        lines.append(f"{name:<12} {now['pairs']:>5}  {now['precision']:>9.3f}  "
                     f"{now['recall']:>6.3f}  |         {before['precision']:>9.3f}  "
                     f"{before['recall']:>6.3f}")  # fmt: skip
    lines.append("category             pairs  called conflict  before  called agree")
    merged = PairReport([r for report in reports.values() for r in report.results])
    for category in CATEGORIES:
        row = merged.by_category().get(category)
        if row:
            lines.append(f"{category:<20} {row['pairs']:>5}  {row['called_conflict']:>15}  "
                         f"{row['called_conflict_before']:>6}  {row['called_agree']:>12}")  # fmt: skip
    if errors:
        lines += [f"wrong: {r.id} {r.category} said {'conflict' if r.predicted else 'not'}"
                  f" ({r.reason or 'same quantity'})"
                  for report in reports.values() for r in report.results
                  if r.predicted != r.conflict]  # fmt: skip
    return lines


def write_report(reports: dict[str, PairReport], out: Path | None = None) -> Path:
    from datetime import UTC, datetime

    folder = (out or REPORTS) / (datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-conflicts")
    folder.mkdir(parents=True, exist_ok=True)
    body = {name: report.to_dict() for name, report in reports.items()}
    (folder / "report.json").write_text(json.dumps(body, indent=2, ensure_ascii=False), "utf-8")
    (folder / "report.md").write_text(
        "# Conflict decision on the pair sets\n\n```\n" + "\n".join(table(reports, True))
        + "\n```\n", "utf-8",
    )  # fmt: skip
    return folder / "report.md"
