#!/usr/bin/env python3
"""
Reference values of the statistical tests in operators/stats, computed by statsmodels, scipy and
nolds on real candles, written to test/operators/fixtures/stats_reference.json for
test/operators/stats.test.ts.

The test suite does NOT need Python: the JSON is committed data. This script documents how it was
made and regenerates it:

    pip install statsmodels scipy "nolds==0.5.2"   # versions recorded in the fixture
    python3 scripts/stats_reference.py [--data /work/shared/data] [--out test/operators/fixtures/stats_reference.json]

Series, per candle file (the TypeScript test derives the same ones from the same file, and the
fixture stores n, sum and sum of squares of each so a mismatch of the input shows first):
  - levels:  ln(close) of every row, in file order;
  - returns: ln(close_t / close_{t-1}) of adjacent bars only (a return across an exchange outage
    is skipped, never counted as a one-bar return);
  - squared returns, for Ljung-Box as a test of ARCH effects.

Calls (all defaults spelled out):
  adfuller(x, regression='c', autolag='AIC')          levels and returns
  kpss(x, regression='c', nlags='auto')               levels and returns
  scipy.stats.jarque_bera(returns)                    + scipy.stats.skew / kurtosis(fisher=False)
  acorr_ljungbox(x, lags=[5, 10, 20])                 returns and squared returns
  nolds.hurst_rs(returns, fit='poly', corrected=True, unbiased=True)   (default windows logmid_n)
"""
import argparse
import csv
import json
import math
import os
import sys
import warnings

import nolds
import numpy as np
import scipy
import statsmodels
from scipy import stats
from statsmodels.stats.diagnostic import acorr_ljungbox
from statsmodels.tsa.stattools import adfuller, kpss

LB_LAGS = [5, 10, 20]


def read_bars(path: str) -> tuple[list[int], list[float]]:
    ts: list[int] = []
    closes: list[float] = []
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        assert header == ["timestamp_ms", "open", "high", "low", "close", "volume"], header
        for row in reader:
            if row:
                ts.append(int(row[0]))
                closes.append(float(row[4]))
    return ts, closes


def adjacent_log_returns(ts: list[int], closes: list[float], step_ms: int) -> np.ndarray:
    return np.asarray(
        [math.log(closes[i] / closes[i - 1]) for i in range(1, len(ts)) if ts[i] - ts[i - 1] == step_ms], dtype=float
    )


def summary(x: np.ndarray) -> dict:
    return {"n": int(x.shape[0]), "sum": float(x.sum()), "sumSquares": float((x**2).sum())}


def adf(x: np.ndarray) -> dict:
    r = adfuller(x, regression="c", autolag="AIC", result_object=True)
    return {
        "statistic": float(r.statistic),
        "pValue": float(r.pvalue),
        "usedLag": int(r.lags),
        "nobs": int(r.nobs),
        "criticalValues": {k: float(v) for k, v in r.critical_values.items()},
        "icBest": float(r.icbest),
    }


def kpss_(x: np.ndarray) -> dict:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = kpss(x, regression="c", nlags="auto", result_object=True)
    bound = "exact"
    for w in caught:
        text = str(w.message)
        if "smaller than" in text:
            bound = "below"
        elif "greater than" in text:
            bound = "above"
    return {"statistic": float(r.statistic), "pValue": float(r.pvalue), "lags": int(r.lags), "pValueBound": bound}


def ljung_box(x: np.ndarray) -> list[dict]:
    df = acorr_ljungbox(x, lags=LB_LAGS)
    return [{"lag": int(lag), "statistic": float(row.lb_stat), "pValue": float(row.lb_pvalue)} for lag, row in df.iterrows()]


def case(name: str, file_rel: str, data: str, step_ms: int) -> dict:
    ts, closes = read_bars(os.path.join(data, file_rel))
    levels = np.log(np.asarray(closes, dtype=float))
    returns = adjacent_log_returns(ts, closes, step_ms)
    jb = stats.jarque_bera(returns)
    windows = [int(n) for n in nolds.logmid_n(len(returns), ratio=1 / 4.0, nsteps=15)]
    hurst = float(nolds.hurst_rs(returns, nvals=windows, fit="poly", corrected=True, unbiased=True))
    return {
        "name": name,
        "dataFile": file_rel,
        "stepMs": step_ms,
        "levels": summary(levels),
        "returns": summary(returns),
        "adf": {"levels": adf(levels), "returns": adf(returns)},
        "kpss": {"levels": kpss_(levels), "returns": kpss_(returns)},
        "jarqueBera": {
            "statistic": float(jb.statistic),
            "pValue": float(jb.pvalue),
            "skewness": float(stats.skew(returns)),
            "kurtosis": float(stats.kurtosis(returns, fisher=False)),
        },
        "ljungBox": {"returns": ljung_box(returns), "squaredReturns": ljung_box(returns**2)},
        "hurst": {"hurst": hurst, "windows": windows},
    }


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.environ.get("BOT4_SHARED_DATA") or os.path.join(os.path.dirname(repo), "shared", "data"))
    parser.add_argument("--out", default=os.path.join(repo, "test", "operators", "fixtures", "stats_reference.json"))
    args = parser.parse_args()
    cases = [
        case("btc-1h-2020-12-to-2021-07", "candles/binance_spot_BTCUSDT_1h_nfi.csv", args.data, 3_600_000),
        case("sol-1h-2020-12-to-2021-07", "candles/binance_spot_SOLUSDT_1h_nfi.csv", args.data, 3_600_000),
        case("btc-5m-2023-04", "candles/binance_spot_BTCUSDT_5m_2023-04.csv", args.data, 300_000),
    ]
    out = {
        "generatedBy": "scripts/stats_reference.py",
        "statsmodels": statsmodels.__version__,
        "scipy": scipy.__version__,
        "numpy": np.__version__,
        "nolds": "0.5.2",
        "python": sys.version.split()[0],
        "cases": cases,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")
    for c in cases:
        print(c["name"], "ADF(levels)", round(c["adf"]["levels"]["statistic"], 4), "KPSS(levels)", round(c["kpss"]["levels"]["statistic"], 4), "H", round(c["hurst"]["hurst"], 4))
    return 0


if __name__ == "__main__":
    sys.exit(main())
