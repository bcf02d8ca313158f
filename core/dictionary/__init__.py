"""Dictionary domain: what the bot understands (indicators, intervals, ranges, sources)."""
