"""`testbed llm tiny-model DIR`: build the tiny random-weight model the language-model demos
and tests load (testbed/agents/llm/tiny.py); nothing is downloaded."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from testbed.errors import BadInput


def add_llm_command(sub: Any) -> None:
    command = sub.add_parser(
        "llm",
        help="language-model helpers: build the tiny local demo model",
        description="tiny-model DIR: write a tiny random-weight GPT-2 and a byte-level BPE "
        "tokenizer (Hugging Face format) to DIR, for `backend: transformers`. Its answers are "
        "random: it shows the plumbing, not intelligence. Needs the `llm` extra.",
        epilog="example: testbed llm tiny-model runs/tiny-llm",
    )
    command.add_argument("action", choices=("tiny-model",))
    command.add_argument("folder", type=Path, help="where to write the model folder")
    command.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    command.add_argument(
        "--force", action="store_true", help="write into a folder that holds other files"
    )


def llm_command(args: argparse.Namespace, console: Console) -> int:
    from testbed.agents.llm.tiny import MARKER, build_tiny_model  # imports transformers

    folder = args.folder
    if folder.exists() and not folder.is_dir():
        raise BadInput(f"{str(folder)!r} exists and is not a folder")
    ours = (folder / MARKER).is_file()
    if folder.is_dir() and any(folder.iterdir()) and not ours and not args.force:
        raise BadInput(
            f"{str(folder)!r} holds other files (a model of yours?); writing there would "
            "overwrite them",
            hint="choose an empty or new folder, or add --force",
        )
    try:
        path = build_tiny_model(args.folder, seed=args.seed)
    except ImportError as exc:
        hint = "pip install 'testbed[llm]'"
        raise BadInput(f"testbed llm tiny-model needs {exc.name}", hint=hint) from None
    console.print(f"wrote a tiny random model to {path}", highlight=False)
    return 0
