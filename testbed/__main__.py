"""`python -m testbed` and the `testbed` command.

The command line is imported inside `main`: worker processes re-import the script that
started their parent (multiprocessing's spawn), and need none of it.
"""

from __future__ import annotations

import sys


def main() -> int:
    from testbed.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
