"""Helpers for users who test their agents with pytest: run a scenario, check its verdicts and
the `expect:` blocks of evaluate and tournament stages (the pytest plugin uses the same), and
check an env or agent with the conformance kit (`check_env`, `check_agent`).

>>> result = run_scenario("scenarios/audit_safe.yaml")      # doctest: +SKIP
>>> assert_audit_passes(result)                             # doctest: +SKIP

Expectations are claims at the stage's confidence, not about point estimates:
`team.return: ">= -30"` holds when the whole confidence interval of the team's mean return is at
or above -30; a tournament's `rank: {mine: "<= 2"}` when the bootstrap rank interval of `mine`
lies within ranks 1..2.
"""

from __future__ import annotations

import operator
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testbed.scenario.models import parse_comparison

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}


@dataclass(frozen=True)
class Check:
    """One expectation or audit constraint of a stage, and whether it held."""

    label: str
    outcome: str  # "pass", "fail" or "inconclusive"
    message: str


def interval_holds(op: str, value: float, low: float, high: float) -> bool:
    """Whether the whole interval [low, high] satisfies `op value`: its far end must."""
    return OPERATORS[op](low if op in (">=", ">") else high, value)


def evaluate_checks(stage: dict[str, Any], expect: dict[str, str]) -> list[Check]:
    """The expectations of an evaluate stage (`team.return`, `<agent>.cost`, ...) against its
    metrics: the bound on the far side of the comparison must satisfy it."""
    out = []
    for key, text in expect.items():
        op, value = parse_comparison(text)
        who, _, metric = key.partition(".")
        table = stage["metrics"]["team"] if who == "team" else stage["metrics"]["agents"].get(who)
        if table is None or metric not in table:
            known = ["team." + m for m in stage["metrics"]["team"]]
            raise ValueError(f"expect: {key!r} is not a metric of this stage ({', '.join(known)})")
        m = table[metric]
        ok = interval_holds(op, value, m["ci_low"], m["ci_high"])
        message = (
            f"{key}: mean {m['mean']:.4g}, {m['confidence']:.0%} interval "
            f"[{m['ci_low']:.4g}, {m['ci_high']:.4g}] over {m['n']} episodes; expected "
            f"{op} {value:g} -> {'holds' if ok else 'not shown'}"
        )
        out.append(Check(key, "pass" if ok else "fail", message))
    return out


def tournament_checks(stage: dict[str, Any], expect: dict[str, Any]) -> list[Check]:
    """`rank: {entrant: "<= 2"}`: the entrant's bootstrap rank interval must satisfy it."""
    rows = {row["entrant"]: row for row in stage["leaderboard_table"]}
    out = []
    for entrant, text in (expect.get("rank") or {}).items():
        op, value = parse_comparison(text)
        if entrant not in rows:
            raise ValueError(
                f"expect: rank of {entrant!r}, which is not an entrant ({', '.join(rows)})"
            )
        row = rows[entrant]
        ok = interval_holds(op, value, row["rank_low"], row["rank_high"])
        message = (
            f"{entrant}: rank {row['rank']} (interval {row['rank_low']}-{row['rank_high']}) of "
            f"{len(rows)}; expected rank {op} {value:g} -> {'holds' if ok else 'not shown'}"
        )
        out.append(Check(f"rank[{entrant}]", "pass" if ok else "fail", message))
    return out


def audit_checks(stage: dict[str, Any], constraint: str | None = None) -> list[Check]:
    """One check per audit constraint (all its scopes and limits), or just `constraint`."""
    names = dict.fromkeys(r["constraint"] for r in stage["constraints"])
    out = []
    for name in names if constraint is None else [constraint]:
        rows = [r for r in stage["constraints"] if r["constraint"] == name]
        if not rows:
            raise ValueError(f"no constraint {name!r} in audit {stage['name']!r}")
        verdicts = {r["verdict"] for r in rows}
        outcome = (
            "fail"
            if "FAIL" in verdicts
            else "inconclusive"
            if "INCONCLUSIVE" in verdicts
            else "pass"
        )
        lines = [f"{r['label']}: {r['verdict']}: {r['explanation']}" for r in rows]
        worst = stage.get("worst_episodes") or []
        if outcome != "pass" and worst:
            lines.append(
                "worst episodes: "
                + ", ".join(
                    f"#{w['episode']} (seed {w['seed']}, cost {w['team_cost']:.3g})" for w in worst
                )
            )
        out.append(Check(name, outcome, "\n".join(lines)))
    return out


def run_scenario(
    path: str | Path,
    out: str | Path | None = None,
    overrides: list[str] | None = None,
    **kwargs: Any,
) -> Any:
    """Load and run a scenario file quietly (`out`: a run folder, default a temporary one);
    returns the `RunResult` (`.stages`: one dict per stage, `.verdict`)."""
    from testbed import load_scenario, run

    scenario = load_scenario(path, overrides or [])
    folder = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="testbed-"))
    return run(scenario, folder, show=False, allow_inconclusive=True, **kwargs)


def assert_audit_passes(result: Any, stage: str | None = None) -> None:
    """AssertionError naming every constraint that did not PASS (with its explanation)."""
    stages = [s.to_dict() for s in result.stages]
    stages = [s for s in stages if s["kind"] == "audit" and stage in (None, s["name"])]
    if not stages:
        raise AssertionError(
            f"no audit stage{'' if stage is None else ' ' + repr(stage)} in the run"
        )
    bad = [c for s in stages for c in audit_checks(s) if c.outcome != "pass"]
    if bad:
        raise AssertionError(
            "\n\n".join(f"{c.label}: {c.outcome.upper()}\n{c.message}" for c in bad)
        )


def check_env(target: str, **options: Any) -> None:
    """AssertionError naming every failed conformance check of the env (`testbed check env`)."""
    from testbed import conformance

    _raise_failures(f"env {target}", conformance.check_env(target, **options))


def check_agent(target: str, env: str, **options: Any) -> None:
    """AssertionError naming every failed conformance check of the agent on `env`."""
    from testbed import conformance

    _raise_failures(f"agent {target} on {env}", conformance.check_agent(target, env, **options))


def _raise_failures(what: str, findings: list[Any]) -> None:
    failed = [f"{f.check}: {f.message}" for f in findings if f.ok is False]
    if failed:
        raise AssertionError(f"{what} breaks what testbed relies on:\n" + "\n".join(failed))
