"""Trades: the orders and fills deployments produce, as rows (``core.deployment`` writes and reads them)."""
