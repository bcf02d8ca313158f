"""Backtests: signal arrays in, trades, equity and backtesting.py's statistics out (``engine``, ``stats``)."""

from core.backtest.engine import DEFAULT_CONFIG, BacktestConfig, BacktestResult, run_backtest

__all__ = ["DEFAULT_CONFIG", "BacktestConfig", "BacktestResult", "run_backtest"]
