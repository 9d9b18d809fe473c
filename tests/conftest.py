"""Shared fixtures: scenario files written into tmp_path."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("MUJOCO_GL", "egl")

import testbed  # noqa: E402, F401  (imports gymnasium before pettingzoo, see docs/STACK.md trap 4)

REPO = Path(__file__).resolve().parents[1]
# Helper modules shared by tests (fake envs, ...). Tests are imported with
# --import-mode=importlib, so a folder named tests/testbed cannot shadow the real package.
sys.path.insert(0, str(Path(__file__).parent / "support"))


@pytest.fixture(autouse=True)
def _datasets_in_tmp(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Minari datasets that tests collect go to a temporary folder, never runs/datasets."""
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path_factory.mktemp("datasets")))


@pytest.fixture
def write_yaml(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write dedented YAML text to tmp_path/name and return the path."""

    def write(text: str, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write
