"""``python -m hx.cli`` and the ``hx`` console script."""

from __future__ import annotations

import sys

from hx.cli.main import main


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
