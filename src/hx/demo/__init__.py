"""``hx demo``: the whole platform on the embedded default (SQLite, simulated fleet, simulated time).

The demo is a list of scenes; each scene drives real engines through the runtime in simulated
time and prints what happened.  Every engine issue adds its scene to ``SCENES``.
"""

from hx.demo.context import DemoContext
from hx.demo.runner import run_demo

__all__ = ["DemoContext", "run_demo"]
