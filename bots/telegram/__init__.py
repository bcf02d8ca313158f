"""The Telegram transport: python-telegram-bot 22 in front of the shared command registry.

- ``app``: ``build_application`` and ``serve`` (polling or webhook), the handlers.
- ``render``: a ``Message`` as Telegram messages (HTML-escaped text, photos, inline keyboards).
- ``notifier``: ``TelegramNotifier``, the ``core.notify.Notifier`` the jobs push alerts through.
"""
