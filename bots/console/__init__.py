"""The console transport: ``stoxlify say`` (one command) and ``stoxlify chat`` (a REPL).

It runs the same registry as Telegram and Discord, as a single local user.
"""
