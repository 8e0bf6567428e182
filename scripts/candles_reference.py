#!/usr/bin/env python3
"""
Reference outputs of TA-Lib's candlestick pattern functions on real candles, written to
test/operators/fixtures/talib_candles_reference.json for test/operators/candlePatterns.test.ts.

The test suite does NOT need Python: the JSON is committed data. This script documents how it was
made and regenerates it:

    pip install TA-Lib          # the fixture was made with TA-Lib 0.8.2 (numpy 2.4); a wheel, no compiler
    python3 scripts/candles_reference.py [--data /work/shared/data] [--bars 20000]

Input: the first `--bars` rows of candles/binance_spot_BTCUSDT_5m_nfi.csv (open, high, low, close
as float64, in file order). Output per pattern: TA-Lib's lookback and every bar index where the
output is not 0, with its value (+100 bullish, -100 bearish, +-80 for TA-Lib's weaker engulfing),
so the test can compare every bar (a bar not listed must be 0). The sums of the input columns are
stored so that a mismatch in the input is caught before the patterns are compared.
"""
import argparse
import csv
import json
import os

import numpy as np
import talib
import talib.abstract

PATTERNS = {
    'doji': 'CDLDOJI',
    'hammer': 'CDLHAMMER',
    'shootingStar': 'CDLSHOOTINGSTAR',
    'engulfing': 'CDLENGULFING',
    'morningStar': 'CDLMORNINGSTAR',
    'eveningStar': 'CDLEVENINGSTAR',
    'threeWhiteSoldiers': 'CDL3WHITESOLDIERS',
    'threeBlackCrows': 'CDL3BLACKCROWS',
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--data', default='/work/shared/data')
    parser.add_argument('--bars', type=int, default=20000)
    parser.add_argument('--out', default=os.path.join(os.path.dirname(__file__), '..', 'test', 'operators', 'fixtures', 'talib_candles_reference.json'))
    args = parser.parse_args()
    rows = []
    with open(os.path.join(args.data, 'candles', 'binance_spot_BTCUSDT_5m_nfi.csv')) as f:
        for row in csv.reader(f):
            if not row or not row[0][:1].isdigit():
                continue
            rows.append([float(x) for x in row[1:5]])
            if len(rows) >= args.bars:
                break
    o, h, l, c = (np.array(col, dtype=np.float64) for col in zip(*rows))
    out = {
        'source': 'candles/binance_spot_BTCUSDT_5m_nfi.csv',
        'talib': talib.__version__,
        'bars': len(rows),
        'sums': {'open': float(o.sum()), 'high': float(h.sum()), 'low': float(l.sum()), 'close': float(c.sum())},
        'patterns': {},
    }
    for name, fn in PATTERNS.items():
        values = getattr(talib, fn)(o, h, l, c)
        lookback = getattr(talib.abstract, fn).lookback
        hits = [[int(i), int(v)] for i, v in enumerate(values) if v != 0]
        out['patterns'][name] = {'function': fn, 'lookback': int(lookback), 'hits': hits}
        print(f'{fn}: lookback {lookback}, {len(hits)} bars not 0')
    with open(args.out, 'w') as f:
        json.dump(out, f, separators=(',', ':'))
        f.write('\n')


if __name__ == '__main__':
    main()
