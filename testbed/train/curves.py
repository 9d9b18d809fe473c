"""Learning curves: `curve.csv` (one row per evaluation, flushed as written, so a killed run
keeps it) and `curve.png`."""

from __future__ import annotations

import csv
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from testbed.errors import BadInput


class CurveLog:
    """curve.csv, one row per evaluation, flushed as written."""

    FIELDS = (
        "step",
        "episodes",
        "eval_return",
        "eval_cost",
        "train_return",
        "train_cost",
        "seconds",
    )

    def __init__(self, path: Path, append: bool, extra: tuple[str, ...] = ()):
        self.path = path
        self.fields = (*self.FIELDS, *extra)
        fresh = not (append and path.exists())
        self.file = path.open("a" if not fresh else "w", newline="", encoding="utf-8")
        self.writer = csv.writer(self.file)
        if fresh:
            self.writer.writerow(self.fields)
            self.file.flush()

    def write(self, row: dict[str, Any]) -> None:
        self.writer.writerow([row.get(k) for k in self.fields])
        self.file.flush()

    def close(self) -> None:
        self.file.close()


class Curve:
    """The evaluations of one training run: rows in memory, in `curve.csv` (appended to when
    a run resumes), and on TensorBoard when asked for."""

    def __init__(
        self,
        folder: Path,
        *,
        append: bool = False,
        tensorboard: bool = False,
        until: int | None = None,
        extra: tuple[str, ...] = (),
    ):
        """`until`: keep the rows of an existing curve.csv up to this step (a run continued
        in its own folder), drop later ones. `extra`: more columns (e.g. `train_shaping`),
        given to `add` as `extra`."""
        self.rows: list[dict[str, Any]] = []
        path = folder / "curve.csv"
        if append and until is not None and path.is_file():
            self.rows = [r for r in _read_rows(path) if r["step"] <= until]
            path.unlink()
        self.log = CurveLog(path, append=append, extra=extra)
        for row in self.rows:
            self.log.write(row)
        self.writer = _tensorboard(folder / "tensorboard") if tensorboard else None
        self.started = time.perf_counter()

    def add(
        self,
        step: int,
        episodes: int,
        evaluation: tuple[float, float],
        recent_returns: Iterable[float],
        recent_costs: Iterable[float],
        metrics: dict[str, dict[str, float]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Record one evaluation (return, cost) with the recent training episodes' means."""
        row = {
            "step": step,
            "episodes": episodes,
            "eval_return": evaluation[0],
            "eval_cost": evaluation[1],
            "train_return": _mean(list(recent_returns)),
            "train_cost": _mean(list(recent_costs)),
            "seconds": round(self.elapsed, 3),
            **(extra or {}),
        }
        self.rows.append(row)
        self.log.write(row)
        if self.writer is not None:
            for key in ("eval_return", "eval_cost", "train_return", "train_cost"):
                if row[key] is not None:
                    self.writer.add_scalar(key, row[key], step)
            for name, values in (metrics or {}).items():
                for key, value in values.items():
                    self.writer.add_scalar(f"{name}/{key}", value, step)
        return row

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    @property
    def last(self) -> dict[str, Any] | None:
        return self.rows[-1] if self.rows else None

    def status(self) -> str:
        """The latest evaluation, for a progress bar."""
        last = self.last
        return f"eval return {last['eval_return']:.2f} cost {last['eval_cost']:.2f}" if last else ""

    def close(self) -> None:
        self.log.close()
        if self.writer is not None:
            self.writer.close()


def _read_rows(path: Path) -> list[dict[str, Any]]:
    def number(text: str) -> Any:
        if text == "":
            return None
        value = float(text)
        return int(value) if value.is_integer() and "." not in text else value

    with path.open(newline="", encoding="utf-8") as file:
        return [{k: number(v) for k, v in row.items()} for row in csv.DictReader(file)]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _tensorboard(folder: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        raise BadInput(
            "`tensorboard: true` needs the tensorboard package",
            hint="pip install tensorboard (into the same environment as testbed)",
        ) from exc
    return SummaryWriter(str(folder))


def curve_plot(curve: list[dict[str, Any]], path: Path, title: str) -> None:
    """The learners' evaluation return and cost (and recent training return) against env steps."""
    if not curve:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in curve]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    top.plot(steps, [r["eval_return"] for r in curve], marker="o", label="evaluation")
    train_points = [(r["step"], r["train_return"]) for r in curve if r["train_return"] is not None]
    if train_points:
        top.plot(*zip(*train_points, strict=True), alpha=0.6, label="training (last 20 ep.)")
    top.set_ylabel("return (learners)")
    top.legend()
    top.grid(alpha=0.3)
    bottom.plot(steps, [r["eval_cost"] for r in curve], marker="o", color="#c44e52")
    bottom.set_ylabel("cost (learners)")
    bottom.set_xlabel("env steps")
    bottom.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
