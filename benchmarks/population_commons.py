"""Melting Pot-style population benchmark on the commons: trained self-play focal population
against scripted sustainable and greedy backgrounds, resident and visitor.

Runs `scenarios/population_commons.yaml` once per root seed: five independent PPO learners
train together on `testbed/commons_harvest_v0` (200k env steps), then their five final
snapshots form the focal population, tested in four scenarios (resident: four focal
harvesters and one bot; visitor: one focal harvester among four bots; bots sustainable or
greedy), 30 episodes each, against the reference populations random (score 0) and the best
of always-sustainable / always-greedy in that scenario (score 1). Reported per seed and
scenario: focal per-capita return (95% t-interval), normalised score (paired bootstrap 95%
interval), the background's per-capita return; across seeds the mean score with a t-interval
over the 3 seeds. Also the training curve's last evaluation (team return, 5 agents).

    .venv/bin/python benchmarks/population_commons.py [--seeds 0 1 2] [--steps 200000]
        [--keep DIR]    (keep the run folders)  |  --collect DIR  (summarise kept folders)

Writes benchmarks/results/population_commons.json and .md.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import testbed  # noqa: F401  (first: it imports gymnasium before pettingzoo, STACK.md trap 4)
from testbed import load_scenario, run
from testbed.evaluate.stats import summarize
from testbed.report.format import fmt

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SCENARIO = ROOT / "scenarios" / "population_commons.yaml"


def one_seed(seed: int, steps: int, folder: Path) -> dict[str, Any]:
    scenario = load_scenario(SCENARIO, [f"seed={seed}", f"stages.0.steps={steps}"])
    run(scenario, folder / f"seed-{seed}", show=False, workers=1)
    return collect(folder / f"seed-{seed}")


def finished(run_dir: Path) -> bool:
    path = run_dir / "result.json"
    return path.is_file() and json.loads(path.read_text()).get("status") == "ok"


def collect(run_dir: Path) -> dict[str, Any]:
    """One seed's figures from its run folder's result.json."""
    result = json.loads((run_dir / "result.json").read_text())
    train, population = result["stages"]
    rows = [
        {k: row[k] for k in ("scenario", "mode", "population", "focal", "score", "background")}
        for row in population["rows"]
    ]
    return {
        "seed": int(run_dir.name.removeprefix("seed-")),
        "seconds": round(train["wall_time_s"] + population["wall_time_s"], 1),
        "train_steps": train["curve"][-1]["step"],
        "train_final_eval_team_return": (train.get("final_eval") or {}).get("eval_return"),
        "rows": rows,
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Population benchmark: self-play PPO focal population on the commons",
        "",
        f"`{report['command']}`: {report['steps']} training steps per seed, "
        f"{report['episodes']} episodes per scenario and population; "
        f"{report['seconds']:.0f} s of stage wall time, summed over seeds, on 2 shared cores "
        "(a busy machine).",
        "",
        "Score: random = 0, best of always-sustainable / always-greedy in that scenario = 1.",
        "",
        "| scenario | seed | focal per-capita | score [95% CI] | background per-capita |",
        "|---|---:|---:|---:|---:|",
    ]
    for run_ in report["runs"]:
        for row in run_["rows"]:
            if row["population"] != "focal":
                continue
            f, s, b = row["focal"], row["score"], row["background"]
            lines.append(
                f"| {row['scenario']} | {run_['seed']} | {f['mean']:.1f} ± "
                f"{(f['ci_high'] - f['ci_low']) / 2:.1f} | {s['value']:.2f} "
                f"[{s['ci_low']:.2f}, {s['ci_high']:.2f}] (1 = {s['one']}) | "
                f"{b['mean']:.1f} ± {(b['ci_high'] - b['ci_low']) / 2:.1f} |"
            )
    lines += ["", "Over seeds (mean score, 95% t-interval over seeds):", ""]
    lines += ["| scenario | score | references: sustainable / greedy / random per-capita |"]
    lines += ["|---|---:|---|"]
    for name, agg in report["over_seeds"].items():
        refs = " / ".join(
            f"{agg['references'][g]:.1f}" for g in ("sustainable", "greedy", "random")
        )
        lines.append(
            f"| {name} | {fmt(agg['score']['mean'])} [{fmt(agg['score']['ci_low'])}, "
            f"{fmt(agg['score']['ci_high'])}] | {refs} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--keep", type=Path, help="keep the run folders here (seed-N/)")
    parser.add_argument(
        "--collect", type=Path, help="only summarise the seed-N/ run folders already in this folder"
    )
    args = parser.parse_args()
    if args.collect is not None:
        done = [d for d in sorted(args.collect.glob("seed-*")) if finished(d)]
        runs = [collect(d) for d in done]
        args.seeds = [r["seed"] for r in runs]
        args.steps = runs[0]["train_steps"]
    else:
        with tempfile.TemporaryDirectory() as tmp:
            folder = args.keep or Path(tmp)
            runs = []
            for seed in args.seeds:
                runs.append(one_seed(seed, args.steps, folder))
                print("seed", seed, "done", runs[-1]["seconds"], "s", flush=True)
    over: dict[str, Any] = {}
    for name in dict.fromkeys(r["scenario"] for r in runs[0]["rows"]):
        mine = [[r for r in x["rows"] if r["scenario"] == name] for x in runs]
        focal = [next(r for r in rows if r["population"] == "focal") for rows in mine]
        over[name] = {
            "score": summarize([r["score"]["value"] for r in focal]).to_dict(),
            "focal": summarize([r["focal"]["mean"] for r in focal]).to_dict(),
            "references": {
                g: sum(
                    next(r for r in rows if r["population"] == g)["focal"]["mean"] for rows in mine
                )
                / len(mine)
                for g in ("sustainable", "greedy", "random")
            },
        }
    scenario = load_scenario(SCENARIO)
    report = {
        "command": "python benchmarks/population_commons.py "
        f"--seeds {' '.join(map(str, args.seeds))} --steps {args.steps}",
        "steps": args.steps,
        "episodes": scenario.stages[1].episodes,
        "seconds": sum(r["seconds"] for r in runs),
        "runs": runs,
        "over_seeds": over,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "population_commons.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "population_commons.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
