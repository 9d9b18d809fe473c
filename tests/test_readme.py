"""Every `testbed` command the README shows works when pasted: run from a fresh folder (with the
repository's scenarios), it exits as the README says (`exit N` in its comment, else 0) and
prints the verdicts and episode counts the comment states. Scenarios that train or hold a
tournament, whose README lines claim no numbers, run with their kinds' short settings
(testbed/stages.py); a gate audit after a shortened training may then FAIL (exit 1), the only
other exit allowed. Everything else runs as written (`--workers 2` added to the slow
Safety-Gymnasium audit: results do not depend on workers)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from testbed import load_scenario
from testbed.stages import quick_overrides

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
SHORTENED_KINDS = {"train", "tournament", "meta_train"}
FASTER = {"scenarios/audit_safety_gym.yaml": ["--workers", "2"]}


def blocks() -> list[list[str]]:
    """The README's code blocks that hold testbed commands, each a list of command lines."""
    found: list[list[str]] = []
    inside = False
    for line in README.splitlines():
        if line.startswith("```"):
            inside = not inside
            if inside:
                found.append([])
        elif inside and line.startswith((".venv/bin/testbed ", ".venv/bin/pytest ")):
            found[-1].append(line)
    return [commands for commands in found if commands]


def expectation(line: str) -> tuple[list[str], int, list[str]]:
    """(argv after `testbed`, exit code, texts the output must hold) of one README line."""
    command, _, comment = line.partition("#")
    words = shlex.split(command)[1:]
    code = int(m.group(1)) if (m := re.search(r"exit (\d)", comment)) else 0
    needles = [f"audit {w}" for w in ("PASSED", "FAILED", "INCONCLUSIVE") if w[:4] in comment]
    if "one PASS, one FAIL" in comment:
        needles = ["· PASS", "· FAIL"]
    needles += [f"after {n} episodes" for n in re.findall(r"after (\d+)", comment)]
    needles += [f"after {n} episodes" for n in re.findall(r"\((\d+) episodes\)", comment)]
    if line.startswith(".venv/bin/pytest "):  # the pytest plugin: its outcome counts
        needles = re.findall(r"\d+ (?:passed|failed|xfailed)", comment)
    return words, code, needles


def shortened(words: list[str]) -> tuple[list[str], bool]:
    """The command to run, and whether it was shortened before an audit (which may FAIL)."""
    if words[0].startswith("--testbed"):  # pytest with the plugin
        return ["-m", "pytest", *words], False
    if words[0] != "run":
        return words, False
    scenario = load_scenario(REPO / words[1])
    kinds = {stage.kind for stage in scenario.stages}
    if not kinds & SHORTENED_KINDS:
        return words + FASTER.get(words[1], []), False
    quick = [part for o in quick_overrides(scenario) for part in ("--set", o)]
    return [*words, *quick], "audit" in kinds


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A fresh working folder with the repository's scenarios and examples."""
    path = tmp_path_factory.mktemp("readme")
    for name in ("scenarios", "examples"):
        (path / name).symlink_to(REPO / name)
    return path


def test_the_readme_shows_commands():
    assert sum(map(len, blocks())) >= 20


@pytest.mark.timeout(600)
@pytest.mark.parametrize("commands", blocks(), ids=lambda c: shlex.split(c[0])[2][:40])
def test_readme_commands_work_when_pasted(commands, folder):
    for line in commands:
        words, code, needles = expectation(line)
        argv, gate_may_fail = shortened(words)
        if "*" in " ".join(argv):  # a shell glob, as the README's shell would expand it
            argv = [w for a in argv for w in (sorted(map(str, folder.glob(a))) or [a])]
        program = [] if argv[0] == "-m" else ["-m", "testbed"]
        done = subprocess.run(
            [sys.executable, *program, *argv],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=540,
        )
        output = done.stdout + done.stderr
        allowed = {code, 1} if gate_may_fail else {code}
        assert done.returncode in allowed, f"{line}\n{output[-2000:]}"
        assert "Traceback" not in output and "internal error" not in output, line
        for needle in needles:
            assert needle in output, f"{line}: no {needle!r} in\n{output[-2000:]}"
