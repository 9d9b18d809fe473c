"""Self-play on Breakthrough: does the final snapshot beat its ancestors and the scripted bot?

    .venv/bin/python benchmarks/marl_selfplay.py [--steps N] [--snapshot-every N] [--rounds R]
                                                 [--smoke] [--out DIR] [--db FILE]

Runs the shipped scenario `scenarios/selfplay_breakthrough.yaml` (`kind: train` with
`self_play:`: masked PPO against a pool of its own snapshots, seats alternating) through
`testbed.train.selfplay_stage.run_self_play`, with the overrides given here. After training,
the run's own leaderboard tournament (a real `kind: tournament`, round robin, every pairing in
both seat orders, stored in a SQLite leaderboard) rates every snapshot against the negamax bots
and random play. This script reads that tournament back and reports the Bradley–Terry ratings
with their 95 % bootstrap intervals, and whether the final snapshot ranks above each ancestor
and each bot (point rating, the share of bootstrap replicates that rank it higher, whether
that separates them at 95 %, and the head-to-head games).

Writes benchmarks/results/marl/selfplay.json. The run folder and the leaderboard database go
to a temporary folder unless --out / --db are given. `--smoke` is a 20k-step timing run.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import testbed  # noqa: F401  (gymnasium before pettingzoo, quiet plugin notices)
from testbed import load_scenario
from testbed.train.selfplay_stage import run_self_play

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "selfplay_breakthrough.yaml"
RESULTS = ROOT / "benchmarks" / "results" / "marl" / "selfplay.json"


NOTES = [
    "Snapshots play their greedy `act` in the tournament, so a game between two snapshots is "
    "the same in every round; only games involving the bots (seeded random tie-breaks) or "
    "random vary. The pairing bootstrap of the Bradley-Terry intervals resamples each "
    "pairing's own outcomes, so deterministic pairings add no width: intervals reflect the "
    "variation of games against the bots and random play.",
    "Ratings aggregate the whole field: an entrant can rate above another it loses to head to "
    "head (intransitivity); read `head_to_head` alongside the rating gap.",
    "`train_return` is the learner's return against its snapshot pool (not a strength "
    "measure); `eval_return` is its greedy return against the scripted eval opponent, "
    "seats alternating.",
]


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=None, help="training plies (default: file)")
    parser.add_argument("--snapshot-every", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None, help="tournament rounds")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--smoke", action="store_true", help="20k plies, 2 rounds, no results")
    parser.add_argument("--out", type=Path, default=None, help="run folder (default: temporary)")
    parser.add_argument("--db", type=Path, default=None, help="leaderboard SQLite file")
    return parser.parse_args()


def _overrides(args: argparse.Namespace) -> list[str]:
    overrides = []
    if args.smoke:
        args.steps, args.snapshot_every, args.rounds = 20_000, 5_000, 2
        overrides.append("eval_every=10000")
    if args.steps is not None:
        overrides.append(f"steps={args.steps}")
    if args.snapshot_every is not None:
        overrides.append(f"self_play.snapshot_every={args.snapshot_every}")
    if args.rounds is not None:
        overrides.append(f"self_play.rounds={args.rounds}")
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    return overrides


def compare(result: dict[str, Any]) -> dict[str, Any]:
    """The final snapshot against every ancestor and every fixed entrant."""
    play = result["self_play"]
    board = play["leaderboard"]
    final = play["final_snapshot"]
    ancestors = [n for n in play["snapshots"] if n != final]
    table = {row["entrant"]: row for row in board["leaderboard_table"]}
    fixed = [n for n in table if n not in play["snapshots"]]
    bt = board["bradley_terry"]
    se = {r["entrant"]: r["se"] for r in bt["ratings"]}
    cross = board["cross_play"]["table"]

    def against(other: str) -> dict[str, Any]:
        p_better = bt["prob_better"][final][other]
        alpha = 1.0 - bt["confidence"]
        games = cross.get(final, {}).get(other, {"wins": 0, "draws": 0, "losses": 0})
        return {
            "rating_gap": table[final]["rating"] - table[other]["rating"],
            "p_better": p_better,
            "separated": p_better >= 1 - alpha / 2 or p_better <= alpha / 2,
            "head_to_head": {k: games[k] for k in ("wins", "draws", "losses")},
        }

    row = table[final]
    vs_ancestors = {n: against(n) for n in ancestors}
    vs_fixed = {n: against(n) for n in fixed}
    beaten = [n for n, c in vs_fixed.items() if c["rating_gap"] > 0 and c["separated"]]
    return {
        "final": final,
        "final_rating": [row["rating"], row["ci_low"], row["ci_high"]],
        "final_se": se[final],
        "final_rank": row["rank"],
        "final_rank_interval": [row["rank_low"], row["rank_high"]],
        "entrants": len(table),
        "above_every_ancestor": all(c["rating_gap"] > 0 for c in vs_ancestors.values()),
        "separated_from_every_ancestor": all(
            c["rating_gap"] > 0 and c["separated"] for c in vs_ancestors.values()
        ),
        "ancestors": vs_ancestors,
        "fixed_entrants": vs_fixed,
        "fixed_beaten_at_95": beaten,
    }


def verdict(checks: dict[str, Any]) -> str:
    final = checks["final"]
    lines = [
        f"final snapshot {final}: rank {checks['final_rank']} of {checks['entrants']} "
        f"(95% rank interval {checks['final_rank_interval']}), Bradley-Terry "
        f"{checks['final_rating'][0]:.0f} [{checks['final_rating'][1]:.0f}, "
        f"{checks['final_rating'][2]:.0f}]"
    ]
    above = [n for n, c in checks["ancestors"].items() if c["rating_gap"] > 0]
    sep = [n for n, c in checks["ancestors"].items() if c["rating_gap"] > 0 and c["separated"]]
    lines.append(
        f"above {len(above)} of {len(checks['ancestors'])} ancestors by point rating, "
        f"separated at 95% from {len(sep)}"
    )
    for name, c in checks["fixed_entrants"].items():
        h = c["head_to_head"]
        word = "above" if c["rating_gap"] > 0 else "below"
        lines.append(
            f"{word} {name} by {abs(c['rating_gap']):.0f} Elo (P(better) {c['p_better']:.3f}, "
            f"{'separated' if c['separated'] else 'not separated'}); head to head "
            f"{h['wins']}-{h['losses']}" + (f" ({h['draws']} draws)" if h["draws"] else "")
        )
    return "; ".join(lines)


def main() -> None:
    args = _parse()
    overrides = _overrides(args)
    with tempfile.TemporaryDirectory(prefix="selfplay-bench-") as tmp:
        out = args.out or Path(tmp) / "run"
        db = args.db or Path(tmp) / "leaderboard.sqlite"
        scenario = load_scenario(SCENARIO, [*overrides, f"self_play.db={db}"])
        stage = scenario.stages[0]
        marks: dict[str, float] = {}
        started, cpu_start = time.perf_counter(), time.process_time()

        def progress(step: int, status: str) -> None:
            if step % 10_000 == 0 or step == stage.steps:
                print(f"  step {step:>8}  {status}  cpu {time.process_time() - cpu_start:.0f}s",
                      flush=True)  # fmt: skip
            if step == stage.steps:
                marks.setdefault("training_cpu", time.process_time() - cpu_start)

        result = run_self_play(scenario, 0, out, progress)
        cpu = time.process_time() - cpu_start
        wall = time.perf_counter() - started
    checks = compare(result)
    text = verdict(checks)
    print(text)
    board = result["self_play"]["leaderboard"]
    print(f"{'entrant':<28} {'rating':>7} {'95% interval':>16} {'rank':>8}  W-L")
    for row in board["leaderboard_table"]:
        print(
            f"{row['entrant']:<28} {row['rating']:7.0f} [{row['ci_low']:6.0f}, "
            f"{row['ci_high']:6.0f}] {row['rank']:>3} [{row['rank_low']}-{row['rank_high']}]"
            f"  {row['wins']}-{row['losses']}"
        )
    print(f"cpu {cpu:.0f}s (training {marks.get('training_cpu', float('nan')):.0f}s), "
          f"wall {wall:.0f}s")  # fmt: skip
    if args.smoke:
        return
    options = stage.self_play
    learner = next(iter(stage.agents.values()))
    data = {
        "benchmark": "self-play on testbed/breakthrough_v0: final snapshot vs ancestors and bots",
        "command": " ".join(
            ["benchmarks/marl_selfplay.py"]
            + [f"--{k.replace('_', '-')} {v}" for k, v in _cli(args).items()]
        ),
        "scenario": str(SCENARIO.relative_to(ROOT)),
        "overrides": overrides,
        "env": {"id": stage.env.id, "params": stage.env.params},
        "learner": {"id": learner.id, "params": learner.params},
        "self_play": options.model_dump(mode="json", exclude={"db"}),
        "steps": result["steps"],
        "episodes": result["episodes"],
        "seed": result["seed"],
        "episodes_against_snapshot": result["self_play"]["episodes_against"],
        "curve": [{k: v for k, v in row.items() if k != "seconds"} for row in result["curve"]],
        "leaderboard": {
            "name": board["leaderboard"],
            "games": board["games_total"],
            "rounds": options.rounds,
            "table": [
                {
                    k: row.get(k)
                    for k in (
                        "entrant",
                        "rating",
                        "ci_low",
                        "ci_high",
                        "rank",
                        "rank_low",
                        "rank_high",
                        "games",
                        "wins",
                        "losses",
                        "draws",
                        "score",
                        "elo",
                    )
                }  # fmt: skip
                for row in board["leaderboard_table"]
            ],
            "cross_play": board["cross_play"],
        },
        "checks": checks,
        "verdict": text,
        "notes": NOTES,
        "cpu_seconds": {
            "total": round(cpu, 1),
            "training": round(marks.get("training_cpu", float("nan")), 1),
        },
        "wall_seconds": round(wall, 1),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


def _cli(args: argparse.Namespace) -> dict[str, Any]:
    return {
        k: v
        for k, v in vars(args).items()
        if v is not None and k not in ("smoke", "out", "db") and v is not False
    }


if __name__ == "__main__":
    main()
