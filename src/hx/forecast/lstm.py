"""An LSTM forecaster on PyTorch (CPU), an optional extra: ``pip install torch==2.13.0``.

torch is imported lazily inside the class, so the model is always registered but only usable where
torch is installed; without it ``fit`` raises :class:`~hx.errors.ModelError` with the install hint.
A failure inside torch (its ``RuntimeError``: out of memory, a bad tensor) and a training run whose loss stops
being finite also become :class:`~hx.errors.ModelError`, so the forecasting engine records the fit as failed and
falls back, as for every other model.

The network reads a window of the (``log1p``, standardised) series with hour-of-day and day-of-week
encodings and outputs, in one shot, three quantiles (the median and the interval ends) for every step
of the horizon, relative to the last level; it is trained with the pinball loss.  Beyond the trained
horizon the last step is held.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hx.errors import BadInput, ModelError
from hx.forecast.base import DAY_S, FORECASTERS, WEEK_S, FloatArray, Forecaster

INSTALL_HINT = "the LSTM forecaster needs PyTorch: pip install torch==2.13.0 (or pip install 'hx[lstm]')"


def _torch() -> Any:
    try:
        import torch
    except ImportError as err:
        raise ModelError(INSTALL_HINT) from err
    return torch


def _calendar(ts: FloatArray) -> FloatArray:
    day = 2 * np.pi * np.mod(ts, DAY_S) / DAY_S
    week = 2 * np.pi * np.mod(ts, WEEK_S) / WEEK_S
    return np.column_stack([np.sin(day), np.cos(day), np.sin(week), np.cos(week)])


@FORECASTERS.register("lstm")
class LSTMForecaster(Forecaster):
    """Direct multi-horizon LSTM with quantile outputs (needs torch)."""

    name = "lstm"
    min_points = 48

    def __init__(
        self,
        *,
        window_s: float = 6 * 3600.0,
        max_horizon_s: float = 2 * 3600.0,
        hidden: int = 32,
        epochs: int = 30,
        batch_size: int = 128,
        learning_rate: float = 3e-3,
        max_samples: int = 20_000,
        log: bool | None = None,
        random_state: int = 0,
        level: float = 0.8,
        step: float | None = None,
    ) -> None:
        super().__init__(level=level, step=step)
        if not (math.isfinite(learning_rate) and learning_rate > 0):
            raise BadInput(f"learning_rate must be a positive number, got {learning_rate}", field="learning_rate")
        self.window_s = window_s
        self.max_horizon_s = max_horizon_s
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.max_samples = max_samples
        self.log = log
        self.random_state = random_state

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        return {"epochs": 2, "hidden": 8, "max_samples": 500}

    def _z(self, y: FloatArray) -> FloatArray:
        z = np.log1p(np.maximum(y, 0.0)) if self.log_ else y
        return (z - self.mu_) / self.sd_

    def _inv(self, z: FloatArray) -> FloatArray:
        z = z * self.sd_ + self.mu_
        return np.asarray(np.expm1(np.clip(z, -50.0, 50.0)), dtype=np.float64) if self.log_ else z

    def _inputs(self, zf: FloatArray, gap: FloatArray, ts: FloatArray, ends: np.ndarray) -> FloatArray:
        """Windows ending at each index in ``ends``: value (relative to the last), gap flag, calendar."""
        w = self.win_
        idx = ends[:, None] - np.arange(w - 1, -1, -1)[None, :]
        idx = np.clip(idx, 0, None)
        vals = zf[idx] - zf[ends][:, None]
        cal = _calendar(ts[idx].ravel()).reshape(idx.shape[0], w, 4)
        return np.concatenate([vals[..., None], gap[idx][..., None], cal], axis=2).astype(np.float32)

    def _build(self, torch: Any) -> Any:
        nn = torch.nn
        hidden, out = self.hidden, 3 * self.hout_

        class Net(nn.Module):  # type: ignore[misc, name-defined]
            def __init__(self) -> None:
                super().__init__()
                self.lstm = nn.LSTM(6, hidden, batch_first=True)
                self.head = nn.Linear(hidden, out)

            def forward(self, x: Any) -> Any:
                h, _ = self.lstm(x)
                return self.head(h[:, -1, :])

        return Net()

    def _fit(self, y: FloatArray) -> None:
        torch = _torch()
        try:
            self._train(torch, y)
        except RuntimeError as err:  # torch's error type for failures at run time
            raise ModelError(f"lstm: training failed in torch: {err}") from err

    def _train(self, torch: Any, y: FloatArray) -> None:
        torch.manual_seed(self.random_state)
        torch.set_num_threads(1)
        self.log_ = self.nonneg_ if self.log is None else bool(self.log and self.nonneg_)
        raw = np.log1p(np.maximum(y, 0.0)) if self.log_ else y
        self.mu_ = float(np.nanmean(raw))
        self.sd_ = float(np.nanstd(raw)) or 1.0
        n = y.shape[0]
        self.win_ = max(4, min(int(self.window_s / self.step_), n // 3))
        self.hout_ = max(1, min(round(self.max_horizon_s / self.step_), n // 3))
        z = self._z(y)
        gap = np.isnan(z).astype(np.float64)
        zf = _ffill0(z)
        ts = self.timestamps_(0, n)
        ends = np.arange(self.win_ - 1, n - self.hout_)
        if ends.size == 0:
            raise ModelError(f"lstm: {n} steps are too few for a window of {self.win_} and horizon {self.hout_}")
        rng = np.random.default_rng(self.random_state)
        if ends.size > self.max_samples:
            ends = np.sort(rng.choice(ends, self.max_samples, replace=False))
        x = torch.from_numpy(self._inputs(zf, gap, ts, ends))
        tgt_idx = ends[:, None] + np.arange(1, self.hout_ + 1)[None, :]
        target = z[tgt_idx] - zf[ends][:, None]
        mask = torch.from_numpy((~np.isnan(target)).astype(np.float32))
        tgt = torch.from_numpy(np.nan_to_num(target).astype(np.float32))
        qs = torch.tensor([0.5, 0.5 - self.level / 2.0, 0.5 + self.level / 2.0]).view(1, 3, 1)
        net = self._build(torch)
        opt = torch.optim.Adam(net.parameters(), lr=self.learning_rate)
        gen = torch.Generator().manual_seed(self.random_state)
        for _ in range(self.epochs):
            perm = torch.randperm(x.shape[0], generator=gen)
            for b in range(0, x.shape[0], self.batch_size):
                sel = perm[b : b + self.batch_size]
                out = net(x[sel]).view(-1, 3, self.hout_)
                diff = tgt[sel].unsqueeze(1) - out
                loss = (torch.maximum(qs * diff, (qs - 1) * diff) * mask[sel].unsqueeze(1)).mean()
                if not bool(torch.isfinite(loss)):
                    got = loss.detach().item()
                    raise ModelError(f"lstm: training diverged (loss {got}); try a lower learning_rate")
                opt.zero_grad()
                loss.backward()
                opt.step()
        self.weights_ = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}

    def _forecast(self, h: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        torch = _torch()
        try:
            return self._predict(torch, h)
        except RuntimeError as err:
            raise ModelError(f"lstm: forecasting failed in torch: {err}") from err

    def _predict(self, torch: Any, h: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        net = self._build(torch)
        net.load_state_dict({k: torch.from_numpy(v) for k, v in self.weights_.items()})
        net.eval()
        n = self.y_.shape[0]
        lo = max(0, n - self.win_)
        z = self._z(self.y_[lo:])
        zf = _ffill0(z)
        x = self._inputs(zf, np.isnan(z).astype(np.float64), self.timestamps_(lo, n), np.array([n - 1 - lo]))
        with torch.no_grad():
            out = net(torch.from_numpy(x)).view(3, self.hout_).numpy().astype(np.float64) + zf[-1]
        k = np.minimum(np.arange(h), self.hout_ - 1)
        mean, lower, upper = (self._inv(out[i, k]) for i in range(3))
        return mean, lower, upper


def _ffill0(z: FloatArray) -> FloatArray:
    """Forward-fill gaps (leading gaps become 0, the standardised mean)."""
    ok = ~np.isnan(z)
    idx = np.where(ok, np.arange(z.shape[0]), -1)
    np.maximum.accumulate(idx, out=idx)
    return np.where(idx >= 0, z[np.maximum(idx, 0)], 0.0)
