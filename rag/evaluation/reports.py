"""Report folders for eval and bench runs: `eval/reports/<timestamp>/` with markdown, JSON, plots."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag.errors import MissingExtra

REPORTS = Path("eval/reports")
_REPO = Path(__file__).resolve().parents[2]


def shipped(relative: str) -> Path:
    """A file the repository ships (eval set, thresholds, XQuAD): found from the working
    directory, or else next to the package, so the commands also work from elsewhere."""
    here = Path(relative)
    return here if here.exists() or not (_REPO / relative).exists() else _REPO / relative


def new_report_dir(root: Path | None = None, kind: str = "eval") -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%S")
    folder = (root or REPORTS) / (stamp if kind == "eval" else f"{stamp}-{kind}")
    n = 1
    while folder.exists():
        n += 1
        folder = folder.with_name(f"{folder.name.split('~')[0]}~{n}")
    folder.mkdir(parents=True)
    return folder


def machine() -> str:
    import os
    import platform

    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        if value is None:
            return "–"
        if isinstance(value, float):
            return f"{value:.3f}"
        return str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise MissingExtra("matplotlib", "eval") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def heatmap(
    path: Path,
    title: str,
    rows: Sequence[str],
    cols: Sequence[str],
    values: dict[tuple[str, str], tuple[float, str]],
) -> None:
    """A grid of scores in [0, 1]; each cell also shows its label (e.g. `7/8`); gaps stay grey."""
    import numpy as np

    plt = _pyplot()
    grid = np.full((len(rows), len(cols)), np.nan)
    for (r, c), (value, _) in values.items():
        grid[rows.index(r), cols.index(c)] = value
    fig, ax = plt.subplots(figsize=(1.4 * len(cols) + 2, 0.7 * len(rows) + 1.6))
    cmap = plt.get_cmap("RdYlGn").with_extremes(bad="#dddddd")
    ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(cols)), cols)
    ax.set_yticks(range(len(rows)), rows)
    for (r, c), (_, label) in values.items():
        ax.text(cols.index(c), rows.index(r), label, ha="center", va="center", fontsize=9)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def histogram(path: Path, title: str, series: dict[str, Sequence[float]], xlabel: str) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, values in series.items():
        if values:
            ax.hist(values, bins=30, alpha=0.55, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("questions")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def reliability_plot(path: Path, title: str, series: dict[str, Sequence[dict[str, Any]]]) -> None:
    """Predicted confidence (x) against observed accuracy (y) per bin; the diagonal is perfect
    calibration. Each series is a list of bins with `mean_confidence`, `accuracy` and `n`."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], color="#999999", linestyle="--", label="perfect calibration")
    for name, bins in series.items():
        if bins:
            xs = [b["mean_confidence"] for b in bins]
            ys = [b["accuracy"] for b in bins]
            ax.plot(xs, ys, marker="o", label=name)
            for x, y, b in zip(xs, ys, bins, strict=True):
                ax.annotate(str(b["n"]), (x, y), textcoords="offset points", xytext=(4, -10),
                            fontsize=7)  # fmt: skip
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted confidence")
    ax.set_ylabel("observed share answered right")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
