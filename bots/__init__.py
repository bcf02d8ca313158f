"""Chat adapters. One command registry (``bots.registry``) drives every transport."""
