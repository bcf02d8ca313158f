"""The Discord transport (discord.py 2): slash commands generated from the command registry.

- ``client``: ``build_client`` / ``serve``: the gateway client, its command tree and sync.
- ``commands``: one slash command per registry command, running them, button presses.
- ``render``: a ``Message`` as embeds, attachments and a view of token buttons.
- ``buttons``: the persistent ``TokenButton`` (a ``DynamicItem`` over ``ButtonStore`` tokens).
- ``notifier``: ``DiscordNotifier``, the ``core.notify.Notifier`` for Discord.
"""
