"""Market domain: quotes, candles, indicators, search and the watchlist (Monitoring Status)."""
