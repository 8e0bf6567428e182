"""The peer benchmark's strategy in backtrader (npm run bench:peers).

Long while SMA20 > SMA50, flat otherwise; 95 % of equity at the signal bar's close, rounded
down to the 0.00001 BTC lot; market orders fill at the next bar's open; 0.1 % fee; no slippage.

    python backtrader_bt.py BARS.csv FILLS.csv

writes one line per fill: time of the fill bar (ms), side, price, quantity.
"""
import math
import sys
from datetime import datetime, timezone

import backtrader as bt

LOT = 1e-5


class SmaCross(bt.Strategy):
    def __init__(self):
        self.fast = bt.indicators.SMA(self.data.close, period=20)
        self.slow = bt.indicators.SMA(self.data.close, period=50)
        self.fills = []

    def next(self):
        long = self.fast[0] > self.slow[0]
        if long and not self.position:
            lots = math.floor(self.broker.getvalue() * 0.95 / self.data.close[0] / LOT)
            if lots > 0:
                self.buy(size=lots * LOT)
        elif not long and self.position:
            self.close()

    def notify_order(self, order):
        if order.status == order.Completed:
            when = bt.num2date(order.executed.dt).replace(tzinfo=timezone.utc)
            self.fills.append((round(when.timestamp() * 1000), 'buy' if order.isbuy() else 'sell',
                               order.executed.price, abs(order.executed.size)))


class Bars(bt.feeds.GenericCSVData):
    params = (
        ('dtformat', lambda ms: datetime.fromtimestamp(int(ms) / 1000, timezone.utc).replace(tzinfo=None)),
        ('datetime', 0), ('open', 1), ('high', 2), ('low', 3), ('close', 4), ('volume', 5),
        ('openinterest', -1), ('timeframe', bt.TimeFrame.Minutes), ('compression', 5),
    )


def main(bars_file, fills_file):
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(Bars(dataname=bars_file))
    cerebro.addstrategy(SmaCross)
    cerebro.broker.setcash(10_000)
    cerebro.broker.setcommission(commission=0.001)
    strategy = cerebro.run()[0]
    with open(fills_file, 'w') as out:
        for ts, side, price, qty in strategy.fills:
            out.write(f'{ts},{side},{price:.8f},{qty:.5f}\n')
    print(f'backtrader: {len(strategy.fills)} fills, final equity {cerebro.broker.getvalue():.2f}')


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
