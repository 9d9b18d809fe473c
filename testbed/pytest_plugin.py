"""pytest plugin: scenario files as test items, so a safety audit can gate a merge in `pytest`.

Installed with testbed (entry point `pytest11`) and off unless asked for:

    pytest --testbed scenarios/audit_*.yaml

or, in the ini file (used when pytest is given no paths):

    [pytest]
    testbed_scenarios = scenarios/audit_*.yaml

Each file becomes one test module; its items are one per audit constraint (PASS passes, FAIL
fails with the verdicts, intervals and worst episodes; INCONCLUSIVE fails, or xfails with
`--testbed-inconclusive=xfail`), one per evaluate stage with an `expect:` block and one per
tournament with `expect: {rank: ...}` (`testbed.testing` says what an expectation means).
The scenario runs once per file, at its first item. Results are cached in pytest's cache by
the scenario's text, its `--testbed-set` overrides, testbed's own source (harness, envs,
agents), the source of the code the scenario names (`file.py:Name`; the whole top-level
package of a `module:attr`) and the files of every checkpoint folder it names, so an
unchanged subject is not audited again (`--testbed-rerun` forces a run; `--cache-clear` drops
them all). Code reached otherwise (an installed package registering ids through entry
points, a dependency's new version) is not in the key: use `--testbed-rerun` after changing
it. With pytest-xdist use `--dist loadfile`, so a file's items share one run (each worker
writes its own run folder either way).

This module imports only pytest until a scenario is collected, so loading the plugin costs
nothing in other test sessions.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

PATHS = pytest.StashKey[set[Path]]()
COUNTS = pytest.StashKey[dict[str, int]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("testbed", "testbed scenarios (safety audits, evaluations)")
    group.addoption(
        "--testbed",
        action="append",
        metavar="SCENARIO",
        default=None,
        help="collect this scenario file (a glob allowed; repeatable) as tests; with it, .yaml "
        "files among the paths given are scenarios too (so a shell glob works)",
    )
    group.addoption(
        "--testbed-inconclusive",
        choices=("fail", "xfail"),
        default="fail",
        help="what an INCONCLUSIVE audit constraint does (default: fail)",
    )
    group.addoption(
        "--testbed-rerun", action="store_true", help="run scenarios even when a result is cached"
    )
    group.addoption(
        "--testbed-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a scenario field, as `testbed run --set` (repeatable)",
    )
    parser.addini("testbed_scenarios", "scenario files (globs) to collect as tests", "args", [])


def _scenario_paths(config: pytest.Config) -> list[Path]:
    """--testbed files and globs (and .yaml paths given with them), else the ini's globs,
    unless paths were given on the command line (then only those run)."""
    given = config.getoption("testbed")
    if given:
        patterns = [*given, *(a for a in config.args if a.endswith((".yaml", ".yml")))]
        found = [m for p in patterns for m in (sorted(glob.glob(p)) or [p])]
        return [Path(m).resolve() for m in found]
    if config.args_source == pytest.Config.ArgsSource.ARGS:
        return []
    base = config.rootpath
    found = [
        m for p in config.getini("testbed_scenarios") for m in sorted(glob.glob(str(base / p)))
    ]
    return [Path(m).resolve() for m in found]


def pytest_configure(config: pytest.Config) -> None:
    paths = _scenario_paths(config)
    config.stash[PATHS] = set(paths)
    config.stash[COUNTS] = {"run": 0, "cached": 0}
    if not paths:
        return
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise pytest.UsageError(f"--testbed: no such scenario file: {', '.join(map(str, missing))}")
    only_scenarios = config.getoption("testbed") and (
        config.args_source != pytest.Config.ArgsSource.ARGS
    )
    kept = [] if only_scenarios else list(config.args)
    kept = [a for a in kept if Path(a).resolve() not in set(paths)]
    config.args[:] = [*kept, *map(str, paths)]


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    counts = config.stash.get(COUNTS, None)
    if counts and (counts["run"] or counts["cached"]):
        terminalreporter.write_line(
            f"testbed: {counts['run']} scenario(s) run, {counts['cached']} from the cache"
        )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.resolve() in parent.config.stash.get(PATHS, set()):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFailed(Exception):
    """A constraint or expectation that did not hold; its message is the whole report."""


class ScenarioFile(pytest.File):
    """One scenario: its stages' checks as items, one run shared by all of them."""

    def collect(self) -> Any:
        from testbed.errors import BadInput
        from testbed.stages import load_scenario

        overrides = self.config.getoption("testbed_set")
        try:
            self.scenario = load_scenario(self.path, overrides)
        except BadInput as error:
            raise self.CollectError(f"bad scenario: {error}") from None
        self._stages: list[dict[str, Any]] | None = None
        self._failure: ScenarioFailed | None = None
        for index, stage in enumerate(self.scenario.stages):
            name = self.scenario.stage_name(index)
            if stage.kind == "audit":
                for spec in stage.constraints:
                    yield CheckItem.from_parent(
                        self, name=f"{name}::{spec.name}", stage=index, what=spec.name
                    )
            elif stage.kind in ("evaluate", "tournament") and stage.expect:
                yield CheckItem.from_parent(self, name=f"{name}::expect", stage=index, what=None)

    def stages(self) -> list[dict[str, Any]]:
        """The run's stage results, from the cache or a fresh run (once per file)."""
        if self._failure is not None:
            raise self._failure
        if self._stages is None:
            key = f"testbed/{self._cache_key()}"
            cached = None if self.config.getoption("testbed_rerun") else self._cache_get(key)
            counts = self.config.stash[COUNTS]
            if cached is None:
                counts["run"] += 1
                try:
                    cached = self._run()
                except ScenarioFailed as failure:
                    self._failure = failure
                    raise
                if _cache(self.config) is not None:
                    _cache(self.config).set(key, cached)
            else:
                counts["cached"] += 1
            self._stages = cached
        return self._stages

    def _cache_get(self, key: str) -> list[dict[str, Any]] | None:
        """A cached run's stages, if there is one of the right shape."""
        cached = None if _cache(self.config) is None else _cache(self.config).get(key, None)
        shaped = isinstance(cached, list) and len(cached) == len(self.scenario.stages)
        return cached if shaped and all(isinstance(s, dict) for s in cached) else None

    def _run(self) -> list[dict[str, Any]]:
        from testbed.errors import TestbedError
        from testbed.runner import run

        worker = os.environ.get("PYTEST_XDIST_WORKER")  # one folder per xdist worker
        if _cache(self.config) is not None:
            name = self._cache_key() + (f"-{worker}" if worker else "")
            out = _cache(self.config).mkdir("testbed-runs") / name
        else:
            out = Path(tempfile.mkdtemp(prefix=f"testbed-{self.path.stem}-"))
        shutil.rmtree(out, ignore_errors=True)  # ours: an older run of the same scenario
        try:
            result = run(self.scenario, out, show=False, allow_inconclusive=True)
        except TestbedError as error:
            raise ScenarioFailed(f"the scenario did not run: {error}") from None
        except Exception as error:  # an agent's or env's own error: no traceback of ours
            raise ScenarioFailed(
                f"the scenario did not run: {type(error).__name__}: {error}"
            ) from None
        if result.status != "ok":
            raise ScenarioFailed(f"the scenario did not finish ({result.status}): {result.error}")
        return [json.loads(json.dumps(stage.to_dict(), default=str)) for stage in result.stages]

    def _cache_key(self) -> str:
        digest = hashlib.sha256()
        digest.update(self.path.read_bytes())
        digest.update(json.dumps(self.config.getoption("testbed_set")).encode())
        digest.update(_testbed_source_digest().encode())
        base = self.path.parent
        for file in _code_files(self.scenario, base):
            digest.update(str(file).encode())
            digest.update(file.read_bytes())
        for folder in _checkpoint_folders(self.scenario, base):
            for file in sorted(p for p in folder.rglob("*") if p.is_file()):
                digest.update(str(file.relative_to(folder)).encode())
                digest.update(file.read_bytes())
        return digest.hexdigest()[:24]


@functools.cache
def _testbed_source_digest() -> str:
    """A digest of testbed's own code (the harness, its envs and agents): a new version of any
    built-in agent or env is a new subject."""
    import testbed
    import testbed.agents
    import testbed.envs

    digest = hashlib.sha256()
    for package in (testbed, testbed.envs, testbed.agents):
        for root in map(Path, package.__path__):
            for file in sorted(root.rglob("*.py")):
                digest.update(str(file.relative_to(root)).encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()


def _code_files(scenario: Any, base: Path) -> list[Path]:
    """The source files of the code a scenario names (`file.py:Name`, `module:attr`)."""
    import importlib.util

    refs = set()
    for stage in scenario.stages:
        env = getattr(stage, "env", None)
        refs.add(getattr(env, "id", None))
        refs.update(ref.id for _, ref in stage.agent_refs())
    files = set()
    for ref in filter(None, refs):
        target = ref.rpartition(":")[0]
        if not target:
            continue
        if target.endswith(".py"):
            path = Path(target)
            files.add(path if path.is_absolute() else base / path)
            continue
        spec = importlib.util.find_spec(target.partition(".")[0])
        roots = spec.submodule_search_locations if spec else None
        if roots:  # a package: all of it
            files.update(p for root in roots for p in Path(root).rglob("*.py"))
        elif spec and spec.origin:
            files.add(Path(spec.origin))
    return sorted(f for f in files if f.is_file())


def _cache(config: pytest.Config) -> Any:
    """pytest's cache, or None when the cacheprovider plugin is off."""
    return getattr(config, "cache", None)


def _checkpoint_folders(scenario: Any, base: Path) -> list[Path]:
    """Existing folders the scenario's agents load checkpoints from (not `@stage` ones)."""
    folders = []
    for stage in scenario.stages:
        for _, ref in stage.agent_refs():
            checkpoint = getattr(ref, "checkpoint", None)
            if checkpoint and not str(checkpoint).startswith("@"):
                path = Path(checkpoint)
                path = path if path.is_absolute() else base / path
                if path.is_dir():
                    folders.append(path)
    return folders


class CheckItem(pytest.Item):
    """An audit constraint (`what` = its name) or a stage's `expect:` block (`what` = None)."""

    def __init__(self, *, stage: int, what: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stage, self.what = stage, what

    def runtest(self) -> None:
        from testbed import testing

        parent = self.parent
        assert isinstance(parent, ScenarioFile)
        result = parent.stages()[self.stage]
        spec = parent.scenario.stages[self.stage]
        try:
            if result.get("kind") == "audit":
                checks = testing.audit_checks(result, self.what)
            elif result.get("kind") == "evaluate":
                checks = testing.evaluate_checks(result, dict(spec.expect))
            else:
                checks = testing.tournament_checks(result, spec.expect.model_dump())
        except ValueError as error:  # e.g. an expect: key naming no metric of the stage
            raise ScenarioFailed(f"{self.path.name}: {error}") from None
        report = "\n".join(c.message for c in checks)
        outcomes = {c.outcome for c in checks}
        if "fail" in outcomes:
            raise ScenarioFailed(report)
        if "inconclusive" in outcomes:
            if self.config.getoption("testbed_inconclusive") == "xfail":
                pytest.xfail(f"INCONCLUSIVE\n{report}")
            raise ScenarioFailed(
                f"INCONCLUSIVE (use --testbed-inconclusive=xfail to allow)\n{report}"
            )

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, ScenarioFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.path.name}::{self.name}"


class TestbedHelper:
    """What the `testbed` fixture gives a test: runs into the test's tmp_path, and the
    assertions of `testbed.testing`."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.runs = folder, 0

    def run(self, path: str | Path, *overrides: str, **options: Any) -> Any:
        """Run a scenario file (with `--set`-style overrides) into a new folder of tmp_path."""
        from testbed import testing

        self.runs += 1
        out = self.folder / f"run-{self.runs}"
        return testing.run_scenario(path, out, list(overrides), **options)

    def assert_audit_passes(self, result: Any, stage: str | None = None) -> None:
        from testbed import testing

        testing.assert_audit_passes(result, stage)

    def check_env(self, target: str, **options: Any) -> None:
        from testbed import testing

        testing.check_env(target, **options)

    def check_agent(self, target: str, env: str, **options: Any) -> None:
        from testbed import testing

        testing.check_agent(target, env, **options)


@pytest.fixture
def testbed(tmp_path: Path) -> TestbedHelper:
    """`testbed.run("scenarios/x.yaml", "episodes=50")`, `testbed.assert_audit_passes(result)`,
    `testbed.check_env("my_pkg:make")`, `testbed.check_agent(...)`."""
    return TestbedHelper(tmp_path)
