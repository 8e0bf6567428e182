#!/usr/bin/env python3
"""
Reference fits of GARCH(1,1) with standardized Student-t innovations by Python's `arch` package,
written to test/operators/fixtures/garch_arch_reference.json for test/operators/garch.test.ts.

The test suite does NOT need Python: the JSON is committed data. This script documents how it was
made and regenerates it:

    pip install arch            # the fixture was made with arch 8.0.0 (numpy 2.4, scipy 1.17)
    python3 scripts/garch_reference.py [--data /work/shared/data] [--out test/operators/fixtures/garch_arch_reference.json]

Model (arch's names): arch_model(s * r, mean='Constant', vol='GARCH', p=1, q=1, dist='t'), i.e.
    r_t = mu + eps_t,  eps_t = sigma_t z_t,  sigma2_t = omega + alpha eps2_{t-1} + beta sigma2_{t-1},
    z_t ~ Student-t(nu) scaled to unit variance.

Returns are log returns ln(close_t / close_{t-1}) of adjacent bars only: a return across a gap in
the candle file (an exchange outage) is skipped, never counted as a one-bar return. The TypeScript
test computes exactly the same series from the same file (the fixture stores n, sum and sum of
squares of the returns so that a mismatch in the input is caught before the fits are compared).

arch prefers scaled returns (percent for daily data); the fit runs on s r with s the power of ten
that arch's own rescale rule picks (sample variance in [1, 1000): s = 100 for 1h and 1d returns,
1000 for 5m returns -- at percent scale arch's optimizer stalls on the 5m returns, see the case's
"notes"). Everything stored is converted back to log-return units: mu / s, omega / s^2,
variances / s^2, VaR and ES / s, and log-likelihood + n ln(s) (the density of r is s times the
density of s r).

Conventions worth knowing when comparing (they are arch's, and bot4's fitGarchT follows them):
  - the recursion starts from arch's *backcast*, not the sample variance: an exponentially weighted
    mean of the first min(75, n) squared residuals (weights 0.94^i, normalized), residuals taken
    from the sample mean; it stands in for both eps2_0 and sigma2_0;
  - nu is bounded to (2.05, 500) and alpha + beta <= 1 in arch (SLSQP); bot4 uses nu > 2 and
    alpha + beta < 1 through a reparametrisation;
  - VaR / ES are for the sum of the next h returns: h mu + sqrt(sum of the h-step variance
    forecasts) * z, z standardized t(nu) -- the usual approximation, since the sum of GARCH-t
    returns is not itself t distributed. Both the mean-adjusted values (arch's documented VaR
    recipe: -mean - sqrt(var) * q) and zero-mean values are stored, as positive loss fractions.
  - arch is run with a tight tolerance (tol=1e-12) so that its optimum, not its stopping rule, is
    what the test compares against.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys

import numpy as np
import scipy
from scipy import integrate, stats

import arch
from arch import arch_model

HOUR_MS = 3_600_000
DAY_MS = 86_400_000


def read_closes(path: str) -> tuple[list[int], list[float]]:
    ts: list[int] = []
    closes: list[float] = []
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        assert header == ["timestamp_ms", "open", "high", "low", "close", "volume"], header
        for row in reader:
            if not row:
                continue
            ts.append(int(row[0]))
            closes.append(float(row[4]))
    return ts, closes


def adjacent_log_returns(ts: list[int], closes: list[float], step_ms: int) -> np.ndarray:
    """ln(c_t / c_{t-1}) for bars that open exactly one step after the previous one."""
    out = []
    for i in range(1, len(ts)):
        if ts[i] - ts[i - 1] == step_ms:
            out.append(math.log(closes[i] / closes[i - 1]))
    return np.asarray(out, dtype=float)


def daily_log_returns_from_hourly(ts: list[int], closes: list[float]) -> np.ndarray:
    """
    Daily close = close of the 23:00 UTC hourly bar (the close at 24:00). A day whose 23:00 bar is
    missing has no close; a return needs the closes of two consecutive days.
    """
    day_close: dict[int, float] = {}
    for t, c in zip(ts, closes):
        if t % DAY_MS == DAY_MS - HOUR_MS:
            day_close[t // DAY_MS] = c
    days = sorted(day_close)
    out = []
    for a, b in zip(days, days[1:]):
        if b == a + 1:
            out.append(math.log(day_close[b] / day_close[a]))
    return np.asarray(out, dtype=float)


def std_t_es(nu: float, confidence: float) -> float:
    """ES (positive) of the unit-variance Student-t at `confidence`, by numerical integration."""
    scale = math.sqrt((nu - 2.0) / nu)
    tail = 1.0 - confidence
    q = stats.t.ppf(tail, nu)  # negative
    integral, _ = integrate.quad(lambda x: x * stats.t.pdf(x, nu), -np.inf, q, epsabs=1e-14, epsrel=1e-12)
    return -integral / tail * scale


def arch_scale(returns: np.ndarray) -> float:
    """
    The power of ten arch's own `rescale=True` would pick: it brings the sample variance into
    [1, 1000). For 1h and 1d returns that is 100 (percent); for 5m returns it is 1000.
    """
    scale = 1.0
    while float(np.var(scale * returns)) < 1.0:
        scale *= 10.0
    return scale


def fit_arch(returns: np.ndarray, scale: float):
    model = arch_model(scale * returns, mean="Constant", vol="GARCH", p=1, q=1, dist="t", rescale=False)
    return model, model.fit(disp="off", tol=1e-12, options={"maxiter": 5000})


def fit_case(name: str, file_rel: str, returns: np.ndarray, definition: str, horizon: int) -> dict:
    n = int(returns.shape[0])
    scale = arch_scale(returns)
    model, res = fit_arch(returns, scale)
    s1, s2 = scale, scale * scale
    p = res.params
    mu, omega, alpha, beta, nu = (float(p["mu"]), float(p["omega"]), float(p["alpha[1]"]), float(p["beta[1]"]), float(p["nu"]))
    se = res.std_err

    fc = res.forecast(horizon=horizon, reindex=False)
    var_path = np.asarray(fc.variance.values[-1], dtype=float)  # %^2, steps 1..h
    mean_path = np.asarray(fc.mean.values[-1], dtype=float)
    agg_var = float(var_path.sum())
    agg_mean = float(mean_path.sum())
    backcast = float(model._backcast)  # type: ignore[attr-defined]

    risk = {}
    for confidence in (0.95, 0.99):
        q = float(np.asarray(model.distribution.ppf(1.0 - confidence, [nu])).ravel()[0])  # standardized t quantile (<0)
        es_std = std_t_es(nu, confidence)
        sd = math.sqrt(agg_var)
        risk[str(confidence)] = {
            "standardizedQuantile": q,
            "standardizedEs": es_std,
            "varWithMean": (-agg_mean - sd * q) / s1,
            "esWithMean": (-agg_mean + sd * es_std) / s1,
            "varZeroMean": (-sd * q) / s1,
            "esZeroMean": (sd * es_std) / s1,
        }

    notes = []
    if scale != 100.0:
        # arch's documented habit is percent returns; on these returns it stalls at its starting
        # values there (SLSQP stops after a few iterations), which is why the scale is arch's own
        # rescale rule. Recorded so the difference stays visible.
        _, pct = fit_arch(returns, 100.0)
        notes.append(
            f"at percent scale arch stops at alpha={float(pct.params['alpha[1]']):.6f}, beta={float(pct.params['beta[1]']):.6f}, "
            f"log-likelihood {float(pct.loglikelihood) + n * math.log(100.0):.4f} (vs {float(res.loglikelihood) + n * math.log(scale):.4f} at scale {scale:g})"
        )

    sigma2 = np.asarray(res.conditional_volatility, dtype=float) ** 2
    resid = np.asarray(res.resid, dtype=float)
    return {
        "name": name,
        "dataFile": file_rel,
        "returns": definition,
        "n": n,
        "sumReturns": float(returns.sum()),
        "sumSquaredReturns": float((returns**2).sum()),
        "params": {
            "mu": mu / s1,
            "omega": omega / s2,
            "alpha": alpha,
            "beta": beta,
            "nu": nu,
        },
        "stdErrors": {
            "mu": float(se["mu"]) / s1,
            "omega": float(se["omega"]) / s2,
            "alpha": float(se["alpha[1]"]),
            "beta": float(se["beta[1]"]),
            "nu": float(se["nu"]),
        },
        "logLikelihood": float(res.loglikelihood) + n * math.log(scale),
        "archScale": scale,
        "logLikelihoodArchUnits": float(res.loglikelihood),
        "backcast": backcast / s2,
        "lastResidual": float(resid[-1]) / s1,
        "lastVariance": float(sigma2[-1]) / s2,
        "oneStepVariance": float(var_path[0]) / s2,
        "horizon": horizon,
        "horizonVariance": agg_var / s2,
        "horizonMean": agg_mean / s1,
        "risk": risk,
        "notes": notes,
        "optimizer": {"converged": int(res.convergence_flag) == 0, "message": str(res.optimization_result.message), "iterations": int(res.optimization_result.nit)},
    }


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.environ.get("BOT4_SHARED_DATA") or os.path.join(os.path.dirname(repo), "shared", "data"))
    parser.add_argument("--out", default=os.path.join(repo, "test", "operators", "fixtures", "garch_arch_reference.json"))
    args = parser.parse_args()

    cases = []
    h1 = "candles/binance_spot_BTCUSDT_1h_nfi.csv"
    ts, closes = read_closes(os.path.join(args.data, h1))
    cases.append(
        fit_case(
            "hourly-2020-12-to-2021-07",
            h1,
            adjacent_log_returns(ts, closes, HOUR_MS),
            "ln(close_t/close_{t-1}) of adjacent 1h bars; returns across the file's gaps skipped",
            horizon=24,
        )
    )
    cases.append(
        fit_case(
            "daily-2020-12-to-2021-07",
            h1,
            daily_log_returns_from_hourly(ts, closes),
            "ln(close_d/close_{d-1}) with close_d = close of the 23:00 UTC 1h bar; days without it skipped",
            horizon=1,
        )
    )
    m5 = "candles/binance_spot_BTCUSDT_5m_2023-04.csv"
    ts5, closes5 = read_closes(os.path.join(args.data, m5))
    cases.append(
        fit_case(
            "5m-2023-04",
            m5,
            adjacent_log_returns(ts5, closes5, 5 * 60_000),
            "ln(close_t/close_{t-1}) of adjacent 5m bars",
            horizon=288,
        )
    )

    out = {
        "generatedBy": "scripts/garch_reference.py",
        "arch": arch.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "python": sys.version.split()[0],
        "model": "arch_model(s*r, mean='Constant', vol='GARCH', p=1, q=1, dist='t', rescale=False).fit(tol=1e-12)",
        "units": "log-return units (converted back from the scale s arch was fitted on, see each case's archScale); VaR/ES are positive loss fractions of the horizon's summed log return",
        "cases": cases,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")
    for c in cases:
        print(c["name"], c["n"], json.dumps(c["params"]), round(c["logLikelihood"], 4), c["optimizer"]["message"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
