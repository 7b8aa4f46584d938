#!/usr/bin/env python3
"""The seed's validation entry point: ``python3 scripts/validation/sprint4-validation.py [--json]``.

It is ``hx validate`` (every component's /health over TLS, database revision, engines stepping, real signal source
and actuator, notifiers, audit chain; exit 1 on any failure). hx options such as ``--config FILE`` go first; without
one, the deployed configuration ``/etc/hx/ai-ml-config.yml`` is used when it exists.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DEPLOYED_CONFIG = Path("/etc/hx/ai-ml-config.yml")
GLOBAL_OPTIONS = ("--config", "-c", "--env", "--set")


def main(argv: list[str]) -> None:
    try:
        from hx.cli.__main__ import run
    except ImportError:
        sys.exit("hx is not importable: run this with hx's virtualenv (/opt/hx/bin/python3) or `pip install .` first")
    pre, rest = _split(argv)
    if not {"--config", "-c", "--env"} & set(pre) and not os.environ.get("HX_CONFIG") and DEPLOYED_CONFIG.is_file():
        pre = ["--config", str(DEPLOYED_CONFIG), *pre]
    sys.argv = ["hx", *pre, "validate", *rest]
    run()


def _split(argv: list[str]) -> tuple[list[str], list[str]]:
    """hx's global options (with their values) apart from validate's own."""
    pre: list[str] = []
    rest: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg in GLOBAL_OPTIONS:
            pre += [arg, next(it, "")]
        else:
            rest.append(arg)
    return pre, rest


if __name__ == "__main__":
    main(sys.argv[1:])
