"""The peer benchmark's strategy in freqtrade, offline (npm run bench:peers).

freqtrade's backtesting loads the exchange's market list over the network when it starts; here
the exchange gets a static one (BTC/USDT spot with Binance's 0.00001 lot and 0.01 tick) instead,
so nothing leaves the machine. The bars CSV is converted to freqtrade's feather data in a
temporary folder (part of the measured process, as reading the CSV is for the other frameworks)
and loaded without freqtrade's filling of gaps with flat candles. The strategy is
freqtrade/SmaCross.py.

    python freqtrade_bt.py BARS.csv FILLS.csv

writes one line per fill: time of the fill bar (ms), side, price, quantity.
"""
import logging
import os
import sys
import tempfile
from pathlib import Path

import pandas as pd

logging.disable(logging.WARNING)

from freqtrade.data.history import get_datahandler  # noqa: E402
from freqtrade.enums import CandleType, RunMode  # noqa: E402
from freqtrade.exchange.exchange import Exchange  # noqa: E402
import freqtrade.optimize.backtesting as backtesting_module  # noqa: E402
from freqtrade.optimize.backtesting import Backtesting  # noqa: E402
from freqtrade.util import dt_ts  # noqa: E402

LOT = 1e-5
PAIR = 'BTC/USDT'
MARKET = {
    'id': 'BTCUSDT', 'symbol': PAIR, 'base': 'BTC', 'quote': 'USDT', 'baseId': 'BTC', 'quoteId': 'USDT',
    'settle': None, 'settleId': None, 'type': 'spot', 'spot': True, 'margin': False, 'swap': False,
    'future': False, 'option': False, 'contract': False, 'linear': None, 'inverse': None, 'active': True,
    'contractSize': None, 'expiry': None, 'expiryDatetime': None, 'strike': None, 'optionType': None,
    'taker': 0.001, 'maker': 0.001, 'percentage': True, 'tierBased': False,
    'precision': {'amount': LOT, 'price': 0.01, 'base': 1e-8, 'quote': 1e-8},
    'limits': {'amount': {'min': LOT, 'max': 9000.0}, 'price': {'min': 0.01, 'max': 1000000.0},
               'cost': {'min': 0.0, 'max': None}, 'leverage': {'min': None, 'max': None},
               'market': {'min': 0.0, 'max': 1000.0}},
    'info': {},
}


def static_markets(self, force=False, *, load_leverage_tiers=True):
    """Exchange.reload_markets without the network: the one market the benchmark trades."""
    self._api.set_markets([MARKET])
    self._api_async.set_markets([MARKET])
    self._markets = self._api.markets
    self._last_markets_refresh = dt_ts()


def main(bars_file, fills_file):
    Exchange.reload_markets = static_markets
    # freqtrade fills a gap in the data with flat "no action" candles, on which the SMAs (and so
    # the signals) would differ from the other frameworks', which see only the bars in the file.
    load_data = backtesting_module.history.load_data
    backtesting_module.history.load_data = lambda **kw: load_data(**kw, fill_up_missing=False)
    raw = pd.read_csv(bars_file)
    frame = pd.DataFrame({
        'date': pd.to_datetime(raw['timestamp_ms'], unit='ms', utc=True),
        'open': raw['open'], 'high': raw['high'], 'low': raw['low'], 'close': raw['close'],
        'volume': raw['volume'],
    })
    with tempfile.TemporaryDirectory() as tmp:
        datadir = Path(tmp) / 'binance'
        get_datahandler(datadir, 'feather').ohlcv_store(PAIR, '5m', frame, CandleType.SPOT)
        here = Path(__file__).resolve().parent
        config = {
            'runmode': RunMode.BACKTEST, 'dry_run': True, 'dry_run_wallet': 10_000,
            'stake_currency': 'USDT', 'stake_amount': 'unlimited', 'tradable_balance_ratio': 1.0,
            'max_open_trades': 1, 'fee': 0.001, 'timeframe': '5m', 'trading_mode': 'spot',
            'margin_mode': '', 'candle_type_def': CandleType.SPOT,
            'strategy': 'SmaCross', 'strategy_path': str(here / 'freqtrade'), 'recursive_strategy_search': False,
            'datadir': datadir, 'user_data_dir': Path(tmp), 'exportfilename': Path(tmp) / 'results',
            'dataformat_ohlcv': 'feather', 'dataformat_trades': 'feather', 'export': 'none',
            'exchange': {'name': 'binance', 'key': '', 'secret': '', 'pair_whitelist': [PAIR],
                         'pair_blacklist': [], 'ccxt_config': {}, 'ccxt_async_config': {}},
            'pairlists': [{'method': 'StaticPairList'}], 'entry_pricing': {'price_side': 'other'},
            'exit_pricing': {'price_side': 'other'},
            'internals': {}, 'original_config': {}, 'cancel_open_orders_on_exit': False,
            'position_adjustment_enable': False, 'timerange': None, 'enable_protections': False,
            'backtest_cache': 'none', 'max_entry_position_adjustment': -1, 'minimal_roi': {'0': 1000.0},
            'stoploss': -0.999, 'use_exit_signal': True, 'exit_profit_only': False,
            'ignore_roi_if_entry_signal': True, 'startup_candle_count': 0,
        }
        backtesting = Backtesting(config)
        data, timerange = backtesting.load_bt_data()
        backtesting.backtest_one_strategy(backtesting.strategylist[0], data, timerange)
        results = backtesting.all_bt_content['SmaCross']['results']
    fills = []
    for t in results.itertuples():
        qty = round(t.amount / LOT)
        fills.append((int(t.open_date.timestamp() * 1000), 'buy', t.open_rate, qty))
        # A trade still open at the end is closed by freqtrade at the last close: not a fill of
        # the strategy (the other frameworks leave it open).
        if t.exit_reason != 'force_exit':
            fills.append((int(t.close_date.timestamp() * 1000), 'sell', t.close_rate, qty))
    fills.sort(key=lambda f: (f[0], f[1] == 'buy'))
    with open(fills_file, 'w') as out:
        for ts, side, price, qty in fills:
            out.write(f'{ts},{side},{price:.8f},{qty * LOT:.5f}\n')
    print(f'freqtrade: {len(fills)} fills')


if __name__ == '__main__':
    os.environ.setdefault('FREQTRADE__INITIAL_STATE', 'stopped')
    main(sys.argv[1], sys.argv[2])
