"""The peer benchmark's strategy as a freqtrade strategy (loaded by ../freqtrade_bt.py).

Long while SMA20 > SMA50, flat otherwise; 95 % of equity at the signal bar's close, rounded
down to the 0.00001 BTC lot; market orders fill at the next bar's open; 0.1 % fee (config).
freqtrade sizes by stake at the fill price, so custom_stake_amount turns the lot count decided
at the signal bar's close into the stake that buys exactly that many lots at the fill bar's open.
"""
import math
from datetime import timedelta

from freqtrade.strategy import IStrategy
from pandas import DataFrame

LOT = 1e-5


class SmaCross(IStrategy):
    INTERFACE_VERSION = 3
    timeframe = '5m'
    minimal_roi = {'0': 1000.0}
    stoploss = -0.999
    use_exit_signal = True
    exit_profit_only = False
    ignore_roi_if_entry_signal = True
    process_only_new_candles = True
    startup_candle_count = 0
    order_types = {'entry': 'market', 'exit': 'market', 'stoploss': 'market', 'stoploss_on_exchange': False}

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe['fast'] = dataframe['close'].rolling(20).mean()
        dataframe['slow'] = dataframe['close'].rolling(50).mean()
        # The signal bar's close, looked up by the fill bar's time in custom_stake_amount.
        self.closes = dict(zip(dataframe['date'], dataframe['close']))
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe['enter_long'] = (dataframe['fast'] > dataframe['slow']).astype(int)
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe['exit_long'] = (~(dataframe['fast'] > dataframe['slow'])).astype(int)
        return dataframe

    def custom_stake_amount(self, pair, current_time, current_rate, proposed_stake, min_stake, max_stake,
                            leverage, entry_tag, side, **kwargs):
        signal_close = self.closes[current_time - timedelta(minutes=5)]
        equity = self.wallets.get_total_stake_amount()  # flat when entering: the cash
        lots = math.floor(equity * 0.95 / signal_close / LOT)
        # Half a lot more than the lots: the amount freqtrade derives truncates to exactly them.
        return (lots + 0.5) * LOT * current_rate
