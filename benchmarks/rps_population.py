"""Non-transitive population: where Elo/Bradley–Terry mislead and α-Rank / Nash averaging do not.

Real tournaments on repeated rock-paper-scissors (`classic/rps_v2`, 15 rounds a game) between
reactive scripted bots (`scripted/rps_reactive`): always-rock, always-paper and
always-scissors (a cycle: each beats one and loses to one, every game), and a weak mirror
that answers rock with scissors and errs 40 % of the time toward losing moves (it loses
nearly every game to rock, about seven in ten to paper and to scissors). This is
`scenarios/tournament_rps.yaml`.

The truth, by construction: rock, paper and scissors are equally good (each is beaten by
exactly one other); the weak mirror is worst. Bradley–Terry and Elo rank by mean score
against the field, so rock, the one member that also beats the weak mirror outright, comes
first. Per root seed (3 seeds) we report every rating's order and intervals, and:

- `bt_rock_first_separated`: BT ranks rock first with P(rock better) >= 0.975 over both
  paper and scissors (a confident, wrong claim);
- `nash_cycle_equal`: Nash averaging gives rock, paper, scissors rating 0 and mass 1/3 each
  (a strategy's copies counted together), the weak mirror a negative rating whose interval
  excludes 0;
- `alpharank_cycle_equal`: α-Rank gives each cycle member 1/3 ± 0.05 (copies together) and
  the weak mirror < 0.05;
- the agreement line the report prints.

A second field adds `scissors2`, a copy of always-scissors: the BT gap between rock and paper
widens (the field now over-represents rock's prey), while Nash averaging's ratings do not move
(the copies share scissors' mass). α-Rank is not copy-invariant and shifts mass too.

    .venv/bin/python benchmarks/rps_population.py [--rounds 20] [--seeds 0 1 2]

Writes benchmarks/results/rps_population.json and .md.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import testbed  # noqa: F401  (first: it imports gymnasium before pettingzoo, STACK.md trap 4)
from testbed import load_scenario
from testbed.rollout.executor import LocalExecutor
from testbed.tournament.stage import run_tournament

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SCENARIO = ROOT / "scenarios" / "tournament_rps.yaml"
CYCLE = ("rock", "paper", "scissors")
COPY = "entrants.scissors2={id: scripted/rps_reactive, params: {opening: 2, replies: [2, 2, 2]}}"


def mass(rows: dict[str, dict[str, Any]], strategy: str, key: str) -> float:
    """Mass of a strategy and its copies (`scissors2` is a copy of `scissors`)."""
    return sum(r[key] for e, r in rows.items() if e.rstrip("2") == strategy)


def tournament(seed: int, rounds: int, extra: list[str], folder: Path) -> dict[str, Any]:
    scenario = load_scenario(SCENARIO, [f"rounds={rounds}", f"seed={seed}", *extra])
    start = time.perf_counter()
    result = run_tournament(scenario, 0, LocalExecutor(), db=folder / f"lb-{seed}-{len(extra)}.db")
    seconds = time.perf_counter() - start
    rows = {r["entrant"]: r for r in result.leaderboard_table}
    bt = result.bradley_terry
    p_better = bt["prob_better"]
    order_bt = [r["entrant"] for r in result.leaderboard_table]
    verdict = result.game_theory["verdict"]
    weak = rows["weak_mirror"]
    return {
        "seed": seed,
        "games": result.games_total,
        "seconds": round(seconds, 2),
        "interval": result.interval,
        "interval_note": result.interval_note,
        "order_bt": order_bt,
        "order_elo": sorted(rows, key=lambda e: -rows[e]["elo"]),
        "bt_rock_first_separated": order_bt[0] == "rock"
        and all(p_better["rock"][o] >= 0.975 for o in ("paper", "scissors")),
        "nash_cycle_equal": all(rows[e]["nash"] == 0.0 for e in rows if e != "weak_mirror")
        and all(abs(mass(rows, e, "nash_mass") - 1 / 3) < 1e-4 for e in CYCLE)
        and weak["nash_high"] < 0,
        "alpharank_cycle_equal": all(abs(mass(rows, e, "alpharank") - 1 / 3) <= 0.05 for e in CYCLE)
        and weak["alpharank"] < 0.05,
        "agreement_line": verdict["line"],
        "agree": verdict["agree"],
        "ratings": {
            e: {
                k: (round(v, 4) if isinstance(v, float) else v)
                for k, v in r.items()
                if k
                in {
                    "rating",
                    "ci_low",
                    "ci_high",
                    "elo",
                    "alpharank",
                    "alpharank_low",
                    "alpharank_high",
                    "nash",
                    "nash_low",
                    "nash_high",
                    "nash_mass",
                    "nash_mass_low",
                    "nash_mass_high",
                }
            }
            for e, r in rows.items()
        },
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Non-transitive population: BT/Elo vs α-Rank and Nash averaging",
        "",
        f"`{report['command']}` ({report['rounds']} rounds: {report['games_per_pair']} games a "
        f"pairing; {report['seconds']:.0f} s on 2 shared cores)",
        "",
    ]
    for field, runs in report["fields"].items():
        lines += [
            f"## {field}",
            "",
            "| seed | BT order | BT: rock first, separated | Nash: cycle equal | "
            "α-Rank: cycle equal | rock BT [CI] | paper BT [CI] | weak Nash rating [CI] |",
            "|---:|---|:-:|:-:|:-:|---:|---:|---:|",
        ]
        for r in runs:
            rock, paper, weak = (r["ratings"][e] for e in ("rock", "paper", "weak_mirror"))
            lines.append(
                f"| {r['seed']} | {' > '.join(r['order_bt'])} | {r['bt_rock_first_separated']} | "
                f"{r['nash_cycle_equal']} | {r['alpharank_cycle_equal']} | "
                f"{rock['rating']:.0f} [{rock['ci_low']:.0f}, {rock['ci_high']:.0f}] | "
                f"{paper['rating']:.0f} [{paper['ci_low']:.0f}, {paper['ci_high']:.0f}] | "
                f"{weak['nash']:.2f} [{weak['nash_low']:.2f}, {weak['nash_high']:.2f}] |"
            )
        first = runs[0]
        lines += ["", "α-Rank π and Nash (mass, rating) of seed " + str(first["seed"]) + ":", ""]
        lines += [
            "| entrant | α-Rank π [CI] | Nash mass | Nash rating [CI] |",
            "|---|---:|---:|---:|",
        ]
        for e, r in first["ratings"].items():
            lines.append(
                f"| {e} | {r['alpharank']:.2f} [{r['alpharank_low']:.2f}, "
                f"{r['alpharank_high']:.2f}] | {r['nash_mass']:.2f} | {r['nash']:.2f} "
                f"[{r['nash_low']:.2f}, {r['nash_high']:.2f}] |"
            )
        lines += ["", f"Report line (seed {first['seed']}): {first['agreement_line']}", ""]
        lines += [f"Intervals: {first['interval']}. {first['interval_note'] or ''}", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    start = time.perf_counter()
    fields = {"cycle + weak mirror": [], "cycle + weak mirror + a copy of scissors": []}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for (name, runs), extra in zip(fields.items(), ([], [COPY]), strict=True):
                runs.append(tournament(seed, args.rounds, extra, Path(tmp)))
                print(name, seed, runs[-1]["order_bt"], runs[-1]["nash_cycle_equal"], flush=True)
    report = {
        "command": "python benchmarks/rps_population.py "
        f"--rounds {args.rounds} --seeds {' '.join(map(str, args.seeds))}",
        "rounds": args.rounds,
        "games_per_pair": 2 * args.rounds,
        "seconds": time.perf_counter() - start,
        "fields": fields,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "rps_population.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "rps_population.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
