"""The peer benchmark's strategy in backtesting.py (npm run bench:peers).

Long while SMA20 > SMA50, flat otherwise; 95 % of equity at the signal bar's close, rounded
down to the 0.00001 BTC lot; market orders fill at the next bar's open; 0.1 % fee; no slippage.
backtesting.py trades whole units, so FractionalBacktest makes one unit 0.00001 BTC.

    python backtesting_py.py BARS.csv FILLS.csv

writes one line per fill: time of the fill bar (ms), side, price, quantity.
"""
import sys
import warnings

import numpy as np
import pandas as pd
from backtesting import Strategy
from backtesting.lib import FractionalBacktest

LOT = 1e-5


def sma(values, n):
    return pd.Series(values).rolling(n).mean().to_numpy()


class SmaCross(Strategy):
    def init(self):
        self.fast = self.I(sma, self.data.Close, 20)
        self.slow = self.I(sma, self.data.Close, 50)

    def next(self):
        long = self.fast[-1] > self.slow[-1]
        if long and not self.position:
            # Prices are per lot here (FractionalBacktest scaled them by LOT).
            lots = int(np.floor(self.equity * 0.95 / self.data.Close[-1]))
            if lots > 0:
                self.buy(size=lots)
        elif not long and self.position:
            self.position.close()


def main(bars_file, fills_file):
    raw = pd.read_csv(bars_file)
    data = pd.DataFrame(
        {
            'Open': raw['open'].to_numpy(),
            'High': raw['high'].to_numpy(),
            'Low': raw['low'].to_numpy(),
            'Close': raw['close'].to_numpy(),
            'Volume': raw['volume'].to_numpy(),
        },
        index=pd.to_datetime(raw['timestamp_ms'], unit='ms'),
    )
    bt = FractionalBacktest(data, SmaCross, cash=10_000, commission=0.001, fractional_unit=LOT,
                            finalize_trades=False)
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='Some trades remain open')
        stats = bt.run()
    times = raw['timestamp_ms'].to_numpy()
    fills = []
    for t in stats['_trades'].itertuples():
        qty = round(abs(t.Size) / LOT)
        fills.append((int(times[t.EntryBar]), 'buy', t.EntryPrice, qty))
        fills.append((int(times[t.ExitBar]), 'sell', t.ExitPrice, qty))
    # A trade still open at the end is only in the strategy's list (prices per lot there).
    for t in stats['_strategy'].trades:
        fills.append((int(times[t.entry_bar]), 'buy', t.entry_price / LOT, abs(t.size)))
    fills.sort(key=lambda f: (f[0], f[1] == 'buy'))
    with open(fills_file, 'w') as out:
        for ts, side, price, qty in fills:
            out.write(f'{ts},{side},{price:.8f},{qty * LOT:.5f}\n')
    print(f'backtesting.py: {len(fills)} fills, final equity {stats["Equity Final [$]"]:.2f}')


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
