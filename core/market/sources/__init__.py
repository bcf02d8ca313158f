"""Market data sources. Each adapter turns one provider's data into ``Candles``.

Heavy libraries (yfinance, ccxt) are imported inside the adapter that needs them.
"""
