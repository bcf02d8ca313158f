"""The console transport: ``stoxlify say`` (one command) and ``stoxlify chat`` (a REPL).

It runs the same registry as Telegram and Discord, as a single local user.
"""

from pathlib import Path

# Where the console writes images and files. Here, light to import, so that the ``stoxlify`` entry
# point (bots.cli) and ``stoxlify run`` falling back to the console (bots.runner) both read it
# without importing each other.
DEFAULT_OUT = Path("var/out")
