"""Transition name: the formatting shared by commands and jobs is ``core.format``.

Kept for callers not moved yet (``bots/commands/deployments.py``); new code imports ``core.format``.
"""

from core.format import SAMPLE_NOTE, arrow, compact, number, price, signed

__all__ = ["SAMPLE_NOTE", "arrow", "compact", "number", "price", "signed"]
