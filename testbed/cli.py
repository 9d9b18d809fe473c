"""The `testbed` command: run, validate and list scenarios, envs and agents.

Exit codes: 0 success (audit passed), 1 audit failed, 2 bad input, 3 the run itself broke.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from testbed import registry
from testbed._version import __version__
from testbed.describe import DescribeView, describe_env
from testbed.errors import BadInput, TestbedError
from testbed.replay import replay, same_episode
from testbed.report.output import default_run_dir
from testbed.runner import run
from testbed.stages import load_scenario
from testbed.tournament.report import show_leaderboard

EPILOG = "exit codes: 0 success, 1 audit failed, 2 bad input, 3 the run broke"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="testbed",
        description="Evaluate, rank and audit PettingZoo agents from YAML scenario files.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"testbed {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_run_command(sub)
    _add_validate_command(sub)
    _add_list_command(sub)
    _add_replay_command(sub)
    _add_describe_command(sub)
    _add_leaderboard_command(sub)
    return parser


def _add_run_command(sub: Any) -> None:
    command = sub.add_parser(
        "run",
        help="run a scenario file",
        description="Run every stage of a scenario; write result.json and episodes.jsonl.",
        epilog="example: testbed run scenarios/quickstart.yaml --set episodes=20 --seed 1\n"
        + EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.add_argument("file", type=Path, help="scenario YAML file")
    command.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a field, e.g. episodes=20, env.params.N=5, agents.*=random (repeatable)",
    )
    command.add_argument(
        "--out", type=Path, help="run directory (default: runs/<scenario>-<time>/)"
    )
    command.add_argument("--seed", type=int, help="root seed (overrides the file's `seed`)")
    command.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes (default: all cores for tournaments, 1 otherwise); results "
        "do not depend on it",
    )
    command.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted tournament: games already in the database are kept",
    )
    command.add_argument(
        "--db",
        type=Path,
        help="leaderboard database for tournaments (default: the stage's `db`, else "
        "runs/leaderboard.sqlite)",
    )
    command.add_argument("--quiet", action="store_true", help="no progress bar or report")
    command.add_argument(
        "--allow-inconclusive",
        action="store_true",
        help="an INCONCLUSIVE audit passes (exit 0) with a warning instead of failing",
    )


def _add_validate_command(sub: Any) -> None:
    command = sub.add_parser(
        "validate",
        help="check scenario files without running them",
        description="Check schema, ids and parameters of scenario files; exit 2 on the first "
        "invalid one after reporting all.",
        epilog=EPILOG,
    )
    command.add_argument("files", type=Path, nargs="+", help="scenario YAML files")


def _add_list_command(sub: Any) -> None:
    command = sub.add_parser(
        "list",
        help="list registered envs, agents or scenarios",
        description="List what is registered (built in, or from installed plugins).",
    )
    command.add_argument("what", choices=["envs", "agents", "scenarios"])
    command.add_argument("--json", action="store_true", help="machine-readable output")
    command.add_argument(
        "--dir", type=Path, default=Path("scenarios"), help="scenario folder (list scenarios)"
    )


def _add_replay_command(sub: Any) -> None:
    command = sub.add_parser(
        "replay",
        help="re-run one recorded episode exactly, optionally as a GIF",
        description="Re-run episode K of a finished run from its recorded seed, check that it "
        "reproduces the recorded returns and costs, and optionally write its frames as a GIF.",
        epilog="example: testbed replay runs/audit-unsafe-20261121-101500 --episode 3 "
        "--gif worst.gif",
    )
    command.add_argument("run_dir", type=Path, help="a run directory (result.json, episodes.jsonl)")
    command.add_argument("--episode", type=int, required=True, help="episode number (from 0)")
    command.add_argument("--stage", help="stage name (default: the first stage)")
    command.add_argument("--gif", type=Path, help="write the rendered frames to this GIF")
    command.add_argument("--fps", type=int, default=15, help="GIF frames per second")


def _add_describe_command(sub: Any) -> None:
    command = sub.add_parser(
        "describe",
        help="show one env: agents, spaces, parameters, costs",
        description="Build an env with its default parameters and show its agents, their "
        "observation and action spaces, the parameters a scenario may set, and its costs.",
    )
    command.add_argument("env", help="env id, e.g. mpe/simple_spread_v3")
    command.add_argument("--json", action="store_true", help="machine-readable output")


def _add_leaderboard_command(sub: Any) -> None:
    command = sub.add_parser(
        "leaderboard",
        help="show a tournament leaderboard from the database",
        description="Ratings over every game recorded under a leaderboard name, across runs.",
        epilog="example: testbed leaderboard breakthrough-ladder --db runs/leaderboard.sqlite",
    )
    command.add_argument("name", nargs="?", help="leaderboard name (default: list them)")
    command.add_argument(
        "--db", type=Path, default=None, help="SQLite file (default runs/leaderboard.sqlite)"
    )
    command.add_argument("--json", action="store_true", help="machine-readable output")


def _leaderboard(args: argparse.Namespace, console: Console) -> int:
    return show_leaderboard(args.db, args.name, as_json=args.json, console=console)


def _describe(args: argparse.Namespace, console: Console) -> int:
    env = registry.make_env(args.env)
    try:
        result = describe_env(args.env, env, {})
    finally:
        env.close()
    if args.json:
        info = {"id": args.env, "kind": result.env_kind, "api": result.api}
        info.update(description=result.description, costs=result.costs, params=result.params)
        print(json.dumps({**info, "agents": result.agents}, indent=2, default=str))
        return 0
    console.print(DescribeView(result))
    return 0


def _replay(args: argparse.Namespace, console: Console) -> int:
    recorded, record, frames = replay(args.run_dir, args.episode, args.stage, args.gif, args.fps)
    console.print(
        f"episode {args.episode} (seed {recorded['seed']}): length {record.length}, "
        f"team return {record.team_return:.4g}, team cost {record.team_cost:.4g}",
        highlight=False,
    )
    if args.gif:
        console.print(f"wrote {frames} frames to {args.gif}")
    if not same_episode(recorded, record):
        console.print(
            "[bold red]the replay differs from the recorded episode[/] "
            "(a nondeterministic env or agent?)"
        )
        return 3
    console.print("[green]identical to the recorded episode[/]")
    return 0


def _run(args: argparse.Namespace, console: Console) -> int:
    overrides = list(args.overrides)
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    scenario = load_scenario(args.file, overrides)
    if args.workers is not None and args.workers < 1:
        raise BadInput(f"--workers must be at least 1, got {args.workers}")
    out = args.out or default_run_dir(scenario.name)
    result = run(
        scenario,
        out,
        workers=args.workers,
        console=console,
        show=not args.quiet,
        allow_inconclusive=args.allow_inconclusive,
        resume=args.resume,
        db=args.db,
    )
    if not args.quiet:
        console.print(f"[dim]results written to[/] {result.out_dir}/")
    verdict = result.verdict
    if verdict == "FAIL":
        console.print("[bold red]audit FAILED[/]")
        return 1
    if verdict == "INCONCLUSIVE":
        if args.allow_inconclusive:
            console.print("[yellow]warning:[/] audit INCONCLUSIVE, allowed by --allow-inconclusive")
            return 0
        console.print(
            "[bold yellow]audit INCONCLUSIVE[/]: the sample cannot decide at the "
            "stated confidence (more episodes, or --allow-inconclusive)"
        )
        return 1
    if verdict == "PASS":
        console.print("[bold green]audit PASSED[/]")
    return 0


def _validate(args: argparse.Namespace, console: Console) -> int:
    worst = 0
    for path in args.files:
        try:
            scenario = load_scenario(path)
        except BadInput as exc:
            console.print(f"[red]✗[/] {exc.render()}", highlight=False, soft_wrap=True)
            worst = 2
            continue
        kinds = ", ".join(s.kind for s in scenario.stages)
        console.print(
            f"[green]✓[/] {path}: {scenario.name} ({kinds})", highlight=False, soft_wrap=True
        )
    return worst


def _env_rows() -> list[dict[str, object]]:
    rows = []
    for env_id in registry.env_ids():
        spec = registry.ENVS.get(env_id)
        if spec is None:
            rows.append(
                {
                    "id": env_id,
                    "kind": "?",
                    "api": "?",
                    "agents": "?",
                    "actions": "?",
                    "costs": [],
                    "description": "(plugin)",
                }
            )
            continue
        rows.append(
            {
                "id": env_id,
                "kind": spec.kind,
                "api": spec.api,
                "agents": spec.agents,
                "actions": spec.actions,
                "costs": list(spec.costs),
                "description": spec.description,
                "extra": spec.extra,
            }
        )
    return rows


def _agent_rows() -> list[dict[str, object]]:
    rows = []
    for agent_id in registry.agent_ids():
        spec = registry.AGENTS.get(agent_id)
        rows.append(
            {
                "id": agent_id,
                "topic": spec.topic if spec else "plugin",
                "envs": list(spec.envs) if spec else [],
                "description": spec.description if spec else "",
            }
        )
    return rows


def _scenario_rows(folder: Path) -> list[dict[str, object]]:
    rows = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            s = load_scenario(path, check_refs=False)
        except BadInput as exc:
            rows.append(
                {
                    "file": str(path),
                    "name": "(invalid)",
                    "kinds": [],
                    "envs": [],
                    "description": exc.render(),
                }
            )
            continue
        rows.append(
            {
                "file": str(path),
                "name": s.name,
                "kinds": [st.kind for st in s.stages],
                "envs": [st.env.id for st in s.stages],
                "description": s.description,
            }
        )
    return rows


def _list(args: argparse.Namespace, console: Console) -> int:
    if args.what == "envs":
        rows = _env_rows()
        columns = ["id", "kind", "api", "agents", "actions", "costs", "description"]
    elif args.what == "agents":
        rows = _agent_rows()
        columns = ["id", "topic", "envs", "description"]
    else:
        rows = _scenario_rows(args.dir)
        columns = ["file", "name", "kinds", "envs", "description"]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    table = Table(title=f"testbed {args.what} ({len(rows)})", title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            *(
                ", ".join(map(str, v)) if isinstance(v, list | tuple) else str(v or "")
                for v in (row.get(c) for c in columns)
            )
        )
    console.print(table)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    console = Console()
    errors = Console(stderr=True)
    args = _parser().parse_args(argv)
    commands = {
        "run": _run,
        "validate": _validate,
        "list": _list,
        "describe": _describe,
        "replay": _replay,
        "leaderboard": _leaderboard,
    }
    try:
        return commands[args.command](args, console)
    except TestbedError as exc:
        label = "error" if isinstance(exc, BadInput) else "run failed"
        text = exc.render() if isinstance(exc, BadInput) else str(exc)
        errors.print(f"[bold red]{label}:[/] {text}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except BrokenPipeError:  # e.g. `testbed list envs --json | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        errors.print(
            "[yellow]interrupted[/]; finished episodes are in episodes.jsonl, finished "
            "tournament games in the leaderboard database (--resume continues)"
        )
        return 130
    except Exception as exc:  # a bug of ours or of an env/agent: exit 3, no traceback by default
        if os.environ.get("TESTBED_DEBUG"):
            raise
        errors.print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {exc}\n"
            "  rerun with TESTBED_DEBUG=1 for the traceback",
            highlight=False,
        )
        return 3


if __name__ == "__main__":
    sys.exit(main())
