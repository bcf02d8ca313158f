"""Transition name: a command's reply is a ``core.message.Message``, the model jobs send too.

Kept for callers not moved yet (``bots/commands/deployments.py``); new code imports ``core.message``.
"""

from core.message import Button, Document, Image, Message

Reply = Message

__all__ = ["Button", "Document", "Image", "Message", "Reply"]
