"""Sweeps: a train stage with `seeds:` trains one independent run per seed.

Run `s` is exactly the stage run alone with `seed: s` (same curve, same checkpoints), in its
own folder `<run>/<stage>/seed-<s>/`. Runs are tasks of the stage's executor, so they train in
parallel in local worker processes (`--workers`) or on Ray (`--executor ray`); the driver
writes each run's `result.json` as it finishes, so `--resume` keeps finished runs and
continues unfinished ones from their newest checkpoint. The final evaluations are aggregated
across seeds with rliable (testbed/report/aggregate.py), and `sweep.png` draws every seed's
curve.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from testbed.context import StageContext
from testbed.errors import RunFailed
from testbed.report.aggregate import aggregate_scores
from testbed.report.output import write_json
from testbed.rollout.workers import WorkerDied
from testbed.scenario.document import Scenario
from testbed.train.result import TrainResult
from testbed.train.stage import newest_checkpoint, run_train, run_train_stage, stage_folder


def with_seed(scenario: Scenario, index: int, seed: int) -> Scenario:
    """The scenario whose stage `index` is one run of the sweep: `seed` set, `seeds` unset."""
    stages = list(scenario.stages)
    stages[index] = stages[index].model_copy(update={"seed": seed, "seeds": None})
    return scenario.model_copy(update={"stages": stages})


class SweepRunner:
    """A task runner (one per worker) that trains one seed of a sweep per task."""

    def __init__(self, scenario: Scenario, index: int, folder: str):
        self.scenario, self.index, self.folder = scenario, index, Path(folder)

    def run(self, seed: int, continue_from: str | None) -> dict[str, Any]:
        scenario = with_seed(self.scenario, self.index, seed)
        result = run_train(
            scenario,
            self.index,
            None,
            continue_from=Path(continue_from) if continue_from else None,
            folder=self.folder / f"seed-{seed}",
        )
        return {**result.to_dict(), "stage_seed": seed}

    def close(self) -> None:
        return None


def run_train_or_sweep(context: StageContext) -> TrainResult:
    """The table's entry for `kind: train`: one run, or a sweep over `seeds`."""
    stage = context.stage
    seeds = stage.sweep_seeds(context.scenario.stage_seed(context.index))
    if seeds is None:
        return run_train_stage(context)
    folder = stage_folder(context.options.out_dir, context.name)
    runs: dict[int, dict[str, Any]] = {}
    todo: list[tuple[int, str | None]] = []
    for seed in seeds:
        done = folder / f"seed-{seed}" / "result.json"
        if context.resume is not None and done.is_file():
            runs[seed] = json.loads(done.read_text(encoding="utf-8"))
            continue
        resume_from = newest_checkpoint(folder / f"seed-{seed}") if context.resume else None
        todo.append((seed, str(resume_from) if resume_from else None))
    context.progress.start(f"sweep {context.name} ({len(seeds)} seeds)", total=len(seeds))
    context.progress.update(completed=len(runs))
    tasks = context.executor.imap_tasks(  # type: ignore[union-attr]
        SweepRunner, (context.scenario, context.index, str(folder)), todo
    )
    for position, outcome in tasks:
        seed = todo[position][0]
        if isinstance(outcome, WorkerDied):
            raise RunFailed(f"seed {seed} of sweep {context.name!r}: {outcome.reason}")
        runs[seed] = outcome
        write_json(folder / f"seed-{seed}" / "result.json", outcome)
        eval_return = (outcome.get("final_eval") or {}).get("eval_return")
        context.progress.update(advance=1, status=f"seed {seed}: eval return {eval_return}")
    ordered = [runs[seed] for seed in seeds]
    sweep_plot(ordered, folder / "sweep.png", f"sweep {context.name} · {stage.env.id}")
    first = TrainResult.from_dict(ordered[0])
    first.sweep = summarize_sweep(ordered, seeds, stage.target_return)
    first.folder = str(folder)
    return first


def summarize_sweep(
    runs: list[dict[str, Any]], seeds: list[int], target: float | None
) -> dict[str, Any]:
    """Each seed's final evaluation, and their aggregates over seeds (rliable; the bootstrap
    seeded by the first seed)."""
    finals = [run.get("final_eval") or {} for run in runs]
    returns = [final.get("eval_return", float("nan")) for final in finals]
    costs = [final.get("eval_cost", float("nan")) for final in finals]
    return {
        "seeds": seeds,
        "runs": [
            {
                "seed": seed,
                "steps": run["steps"],
                "eval_return": final.get("eval_return"),
                "eval_cost": final.get("eval_cost"),
                "wall_time_s": run["wall_time_s"],
                "folder": run["folder"],
                "checkpoints": run["checkpoints"],
            }
            for seed, run, final in zip(seeds, runs, finals, strict=True)
        ],
        "return": aggregate_scores(returns, target=target, seed=seeds[0]),
        "cost": aggregate_scores(costs, seed=seeds[0]),
    }


def sweep_plot(runs: list[dict[str, Any]], path: Path, title: str) -> None:
    """Every seed's evaluation curve, and their mean."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(7, 4))
    for run in runs:
        steps = [row["step"] for row in run["curve"]]
        ax.plot(steps, [row["eval_return"] for row in run["curve"]], alpha=0.4,
                label=f"seed {run.get('stage_seed')}")  # fmt: skip
    lengths = {len(run["curve"]) for run in runs}
    if len(lengths) == 1 and lengths != {0}:
        mean = np.mean([[row["eval_return"] for row in run["curve"]] for run in runs], axis=0)
        ax.plot([row["step"] for row in runs[0]["curve"]], mean, color="black", label="mean")
    ax.set_xlabel("env steps")
    ax.set_ylabel("eval return (learners)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
