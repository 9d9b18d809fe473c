"""The newer directions' three tables in one file (issue 23): LLM-guided, multimodal and
causal RL.

    nice -n 10 .venv/bin/python benchmarks/future.py [--only llm|multimodal|causal] [--assemble]

Runs benchmarks/future_<part>.py for each part (each writes
benchmarks/results/future_<part>.md and .json; their docstrings state budgets and seeds),
then writes benchmarks/results/future.md: the three tables one after the other. `--assemble`
only rebuilds future.md from the parts' results already there.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
RESULTS = HERE / "results"
PARTS = ("llm", "multimodal", "causal")


def assemble() -> str:
    sections = ["# Newer directions: LLM-guided, multimodal and causal RL", ""]
    for part in PARTS:
        path = RESULTS / f"future_{part}.md"
        if not path.is_file():
            sections += [f"## {part}", "", f"Not run yet: `benchmarks/future_{part}.py`.", ""]
            continue
        body = path.read_text().strip().splitlines()
        if body and body[0].startswith("# "):
            body[0] = "#" + body[0]  # each part's title one level down
        sections += [*body, ""]
    return "\n".join(sections)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=PARTS)
    parser.add_argument("--assemble", action="store_true")
    args = parser.parse_args()
    if not args.assemble:
        for part in [args.only] if args.only else PARTS:
            print(f"benchmarks/future_{part}.py", flush=True)
            subprocess.run([sys.executable, str(HERE / f"future_{part}.py")], check=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "future.md").write_text(assemble())


if __name__ == "__main__":
    main()
