"""The `testbed` command: run, validate and list scenarios, envs and agents.

Exit codes: 0 success (audit passed), 1 audit failed, 2 bad input, 3 the run itself broke.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console

from testbed import registry
from testbed._version import __version__
from testbed.context import RunOptions
from testbed.describe import DescribeView, describe_env
from testbed.errors import BadInput, Interrupted, TestbedError
from testbed.listing import show_listing
from testbed.llm_command import add_llm_command, llm_command
from testbed.replay import replay_command
from testbed.report.output import default_run_dir
from testbed.resume import find_unfinished
from testbed.runner import resume_hint, run
from testbed.stages import check_scenario, load_scenario
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
    _add_report_command(sub)
    _add_check_command(sub)
    _add_datasets_command(sub)
    add_llm_command(sub)
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
        help="worker processes (default: all cores for tournaments and sweeps, 1 otherwise); "
        "results do not depend on it",
    )
    command.add_argument(
        "--seeds",
        type=int,
        metavar="N",
        help="train every train stage as a sweep of N seeds (its seed and the next N-1; "
        "same as `--set stages.K.seeds=N` for each)",
    )
    command.add_argument(
        "--executor",
        choices=["local", "ray"],
        help="where episodes, games and sweep runs execute (default: the scenario's "
        "`executor`, else local); results do not depend on it",
    )
    command.add_argument(
        "--address",
        help="Ray cluster address for --executor ray (default: RAY_ADDRESS, else a local "
        "cluster started for the run)",
    )
    command.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run in its folder (--out, default: the newest unfinished "
        "run of this scenario under runs/): finished episodes, games, training are kept",
    )
    command.add_argument(
        "--db",
        type=Path,
        help="leaderboard database for tournaments (default: the stage's `db`, else "
        "runs/leaderboard.sqlite)",
    )
    command.add_argument(
        "--memory-limit",
        type=int,
        metavar="MB",
        help="memory each worker process may use before it is stopped (a tournament entrant "
        "over it forfeits; default: the stages' memory_limit, else 4096 or less to fit)",
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
        help="re-run one recorded episode or tournament game exactly, optionally as a video",
        description="Re-run episode K of a finished run from its recorded seed (with the "
        "scenario's agents), or tournament game K from its recorded seed and actions (no "
        "entrant is loaded); check that it reproduces the recorded returns and costs; "
        "optionally write its frames as a GIF or an MP4.",
        epilog="examples: testbed replay runs/audit-unsafe-20261121-101500 --episode 3 "
        "--gif worst.gif; testbed replay runs/ladder --game 5 --mp4 game5.mp4",
    )
    command.add_argument("run_dir", type=Path, help="a run directory (result.json, episodes.jsonl)")
    which = command.add_mutually_exclusive_group(required=True)
    which.add_argument("--episode", type=int, help="episode number (from 0)")
    which.add_argument("--game", type=int, help="tournament game number (from 0)")
    command.add_argument("--stage", help="stage name (default: the first stage, or tournament)")
    command.add_argument("--gif", type=Path, help="write the rendered frames to this GIF")
    command.add_argument("--mp4", type=Path, help="write the rendered frames to this MP4")
    command.add_argument("--fps", type=int, default=15, help="video frames per second")
    command.add_argument(
        "--trust-code",
        action="store_true",
        help="import the code (file.py:Name, module:attr) the run's scenario names; without it "
        "a run folder, like a checkpoint, is data and only registered envs and agents load",
    )


def _add_describe_command(sub: Any) -> None:
    command = sub.add_parser(
        "describe",
        help="show one env: agents, spaces, parameters, costs",
        description="Build an env with its default parameters and show its agents, their "
        "observation and action spaces, the parameters a scenario may set, and its costs.",
    )
    command.add_argument("env", help="env id, e.g. mpe/simple_spread_v3")
    command.add_argument("--json", action="store_true", help="machine-readable output")


def _add_check_command(sub: Any) -> None:
    command = sub.add_parser(
        "check",
        help="check that your env or agent keeps what testbed relies on",
        description="Conformance kit: PettingZoo's api test, whole-episode seeding, the cost "
        "convention, fixed spaces (envs); spaces, masks, seeding and checkpoints (agents).",
        epilog="examples: testbed check env my_pkg.envs:make; "
        "testbed check agent ./agent.py:Mine --env mpe/simple_spread_v3",
    )
    command.add_argument("what", choices=("env", "agent"))
    command.add_argument("target", help="registered id, module:attr or path/file.py:Name")
    command.add_argument("--env", help="the env an agent is checked on (agents only)")
    command.add_argument("--seed", type=int, default=7, help="seed of the runs (default 7)")
    command.add_argument("--steps", type=int, default=200, help="agent steps per run (default 200)")


def _check(args: argparse.Namespace, console: Console) -> int:
    from testbed.conformance import check_agent, check_env
    from testbed.conformance.report import show_findings

    if args.steps < 1:
        raise BadInput(f"--steps must be a positive count, got {args.steps}")
    if args.what == "env":
        findings = check_env(args.target, seed=args.seed, steps=args.steps)
        return show_findings(f"env {args.target}", findings, console)
    if not args.env:
        raise BadInput("testbed check agent needs --env ID (the env to play it on)")
    findings = check_agent(args.target, args.env, seed=args.seed, steps=args.steps)
    return show_findings(f"agent {args.target} on {args.env}", findings, console)


def _add_datasets_command(sub: Any) -> None:
    command = sub.add_parser(
        "datasets",
        help="list the Minari datasets (MINARI_DATASETS_PATH, else runs/datasets)",
        description="The Minari datasets that `kind: collect` wrote (or any under the folder): "
        "id, episodes, steps, the policy that played. Nothing is downloaded.",
    )
    command.add_argument(
        "--path", type=Path, default=None, help="folder (default MINARI_DATASETS_PATH or "
        "runs/datasets)"
    )  # fmt: skip
    command.add_argument("--json", action="store_true", help="machine-readable output")


def _datasets(args: argparse.Namespace, console: Console) -> int:
    from testbed.datasets.listing import show_datasets

    return show_datasets(args.path, as_json=args.json, console=console)


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
    command.add_argument(
        "--html",
        nargs="?",
        const=True,
        type=Path,
        metavar="FILE",
        help="also write the leaderboard as one self-contained HTML page (default FILE: "
        "leaderboard-<name>.html next to the database)",
    )


def _leaderboard(args: argparse.Namespace, console: Console) -> int:
    return show_leaderboard(args.db, args.name, as_json=args.json, console=console, html=args.html)


def _add_report_command(sub: Any) -> None:
    command = sub.add_parser(
        "report",
        help="show a finished run's report, or write it as an HTML page",
        description="Print a run's summary.md, or (--html) write one self-contained HTML page "
        "of its result.json: tables, ratings with intervals, payoff heat maps, audit "
        "verdicts, learning curves.",
        epilog="example: testbed report runs/quickstart-20261207-120000 --html",
    )
    command.add_argument("run_dir", type=Path, help="a run directory (result.json)")
    command.add_argument(
        "--html",
        nargs="?",
        const=True,
        type=Path,
        metavar="FILE",
        help="write the page (default FILE: RUN_DIR/report.html)",
    )


def _report(args: argparse.Namespace, console: Console) -> int:
    from rich.markdown import Markdown

    from testbed.report.html_pages import write_run_page

    if args.html:
        path = write_run_page(args.run_dir, None if args.html is True else args.html)
        console.print(f"wrote {path}", highlight=False)
        return 0
    summary = args.run_dir / "summary.md"
    if not (args.run_dir / "result.json").is_file():
        raise BadInput(f"{str(args.run_dir)!r} is not a run directory (it has no result.json)")
    if not summary.is_file():
        raise BadInput(f"{str(summary)!r} not found (the run did not finish); try --html")
    console.print(Markdown(summary.read_text(encoding="utf-8")))
    return 0


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


def _run(args: argparse.Namespace, console: Console) -> int:
    overrides = list(args.overrides)
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    scenario = load_scenario(args.file, overrides)
    if args.seeds is not None:
        if args.seeds < 1:
            raise BadInput(f"--seeds must be at least 1, got {args.seeds}")
        trains = [k for k, stage in enumerate(scenario.stages) if stage.kind == "train"]
        if not trains:
            raise BadInput(f"--seeds: {str(args.file)!r} has no train stage to sweep")
        overrides += [f"stages.{k}.seeds={args.seeds}" for k in trains]
        scenario = load_scenario(args.file, overrides)
    if args.workers is not None and args.workers < 1:
        raise BadInput(f"--workers must be at least 1, got {args.workers}")
    if args.memory_limit is not None and args.memory_limit < 1:
        raise BadInput(f"--memory-limit must be at least 1 (MB), got {args.memory_limit}")
    out = args.out
    if out is None and args.resume:  # the newest unfinished run of this scenario, if any
        out = find_unfinished(Path("runs"), scenario.model_dump(mode="json"))
    out = out or default_run_dir(scenario.name)
    command = shlex.join(["testbed", *args.argv])
    try:
        with _stop_on_signals():
            result = run(
                scenario,
                out,
                workers=args.workers,
                console=console,
                show=not args.quiet,
                allow_inconclusive=args.allow_inconclusive,
                resume=args.resume,
                db=args.db,
                memory_limit_mb=args.memory_limit,
                command=command,
                executor=args.executor,
                address=args.address,
            )
    except KeyboardInterrupt as exc:
        stopped = exc if isinstance(exc, Interrupted) else Interrupted(signal.SIGINT)
        hint = resume_hint(RunOptions(out_dir=Path(out), command=command))
        Console(stderr=True).print(
            f"[yellow]{stopped}[/]: finished episodes and games are kept in {out}/ "
            f"(result.json says `interrupted`); continue with:\n  {hint}",
            highlight=False,
            soft_wrap=True,
        )
        return stopped.exit_code
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


@contextmanager
def _stop_on_signals() -> Iterator[None]:
    """SIGTERM (docker stop, CI time-outs), SIGINT (Ctrl-C) and SIGHUP stop the run at once
    with `Interrupted`, which the runner records and the caller turns into its exit code."""

    def stop(signum: int, frame: Any) -> None:
        raise Interrupted(signum)

    watched = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, stop) for s in watched}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _validate(args: argparse.Namespace, console: Console) -> int:
    worst = 0
    for path in args.files:
        try:
            scenario = load_scenario(path)
            notes = check_scenario(scenario)
        except BadInput as exc:
            for problem in exc.problems:
                console.print(f"[red]✗[/] {problem.render_one()}", highlight=False, soft_wrap=True)
            worst = 2
            continue
        kinds = ", ".join(s.kind for s in scenario.stages)
        console.print(
            f"[green]✓[/] {path}: {scenario.name} ({kinds})", highlight=False, soft_wrap=True
        )
        for note in notes:
            console.print(f"  [dim]{note}[/]", highlight=False, soft_wrap=True)
    return worst


def _list(args: argparse.Namespace, console: Console) -> int:
    return show_listing(args.what, args.json, args.dir, console)


def main(argv: Sequence[str] | None = None) -> int:
    console = Console()
    errors = Console(stderr=True)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    args.argv = argv
    commands = {
        "run": _run,
        "validate": _validate,
        "list": _list,
        "describe": _describe,
        "replay": replay_command,
        "report": _report,
        "leaderboard": _leaderboard,
        "check": _check,
        "datasets": _datasets,
        "llm": llm_command,
    }
    try:
        return commands[args.command](args, console)
    except BadInput as exc:
        for problem in exc.problems:
            errors.print(
                f"[bold red]error:[/] {problem.render_one()}", highlight=False, soft_wrap=True
            )
        return exc.exit_code
    except TestbedError as exc:
        errors.print(f"[bold red]run failed:[/] {exc}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except BrokenPipeError:  # e.g. `testbed list envs --json | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        errors.print("[yellow]interrupted[/]")
        return 130
    except SystemExit as exc:  # code a scenario named (an agent, an env) called sys.exit
        errors.print(
            f"[bold red]run failed:[/] code called sys.exit({exc.code}) during the {args.command} "
            "(an agent or env the scenario names?)",
            highlight=False,
        )
        return 3
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
