"""Plot a scaling replay: demand with the forecast band, and the replicas each policy chose.

matplotlib is an optional extra (``pip install 'hx[plots]'``), imported lazily and drawn with the
non-interactive Agg canvas (no display, no global pyplot state).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from hx.errors import BadInput, ModelError
from hx.security.private import export_dir, write_private

ArrayLike = npt.ArrayLike


def plot_scaling(
    out_png: str | Path,
    times: ArrayLike,
    demand: ArrayLike,
    forecast_band: Sequence[ArrayLike] | None,
    replicas_by_policy: Mapping[str, ArrayLike],
    *,
    capacity_rps: float | None = None,
    title: str = "scaling replay",
    provisioned: ArrayLike | None = None,
) -> Path:
    """Write a two-panel PNG and return its path.

    ``times`` are unix seconds; ``forecast_band`` is ``(lower, upper)`` or ``(mean, lower, upper)``
    aligned with ``times`` (NaN where there was no forecast), or None; ``replicas_by_policy`` maps a
    policy name to its replicas at each time.  With ``capacity_rps`` the top panel also shows each
    policy's capacity (replicas x capacity) against the demand, up to 1.6x the demand's peak (a static
    peak provisioning line above that is off the chart; its replicas are in the bottom panel).
    ``provisioned`` (like ``times``, NaN where absent) is the demand the predictive policy provisioned
    for, drawn as a dotted line.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as err:
        raise ModelError("plotting needs matplotlib: pip install 'hx[plots]' (or matplotlib>=3.8)") from err
    t = np.asarray(times, dtype=np.float64)
    d = np.asarray(demand, dtype=np.float64)
    if t.ndim != 1 or t.shape != d.shape or t.size == 0:
        raise BadInput(f"times and demand must be 1-D and the same length, got {t.shape} and {d.shape}", field="demand")
    when = [datetime.fromtimestamp(float(x), UTC) for x in t]
    fig = Figure(figsize=(11, 6.5), dpi=100)
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    top.plot(when, d, color="black", lw=1.0, label="demand")
    if forecast_band is not None:
        band = [np.asarray(b, dtype=np.float64) for b in forecast_band]
        if len(band) not in (2, 3) or any(b.shape != t.shape for b in band):
            raise BadInput(
                "forecast_band must be (lower, upper) or (mean, lower, upper), each like times", field="forecast_band"
            )
        lower, upper = band[-2], band[-1]
        top.fill_between(when, lower, upper, color="tab:blue", alpha=0.25, lw=0, label="forecast interval")
        if len(band) == 3:
            top.plot(when, band[0], color="tab:blue", lw=1.0, ls="--", label="forecast")
    if provisioned is not None:
        pv = np.asarray(provisioned, dtype=np.float64)
        if pv.shape != t.shape:
            raise BadInput(f"provisioned must be like times, got {pv.shape}", field="provisioned")
        top.plot(when, pv, color="tab:blue", lw=0.8, ls=":", label="predictive: demand provisioned for")
    colors = ["tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink"]
    for i, (name, reps) in enumerate(replicas_by_policy.items()):
        r = np.asarray(reps, dtype=np.float64)
        if r.shape != t.shape:
            raise BadInput(f"replicas of policy {name!r} must be like times, got {r.shape}", field="replicas_by_policy")
        c = colors[i % len(colors)]
        bottom.step(when, r, where="post", color=c, lw=1.2, label=name)
        if capacity_rps:
            top.step(when, r * capacity_rps, where="post", color=c, lw=0.8, alpha=0.7, label=f"{name} capacity")
    top.set_ylabel("req/s")
    top.set_title(title)
    peak = float(np.nanmax(d)) if np.isfinite(d).any() else 0.0
    if peak > 0:  # a far higher capacity line (static peak provisioning) must not flatten the demand
        top.set_ylim(0.0, 1.6 * peak)
    top.legend(loc="upper left", fontsize=7, ncol=4, framealpha=0.85)
    bottom.set_ylabel("replicas")
    bottom.set_xlabel("time (UTC)")
    bottom.legend(loc="upper left", fontsize=7, ncol=len(replicas_by_policy) or 1, framealpha=0.85)
    fig.autofmt_xdate()
    fig.tight_layout()
    out = Path(out_png)
    export_dir(out.parent)
    png = io.BytesIO()
    fig.savefig(png, format="png")
    write_private(out, png.getvalue())
    return out
