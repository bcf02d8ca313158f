"""The ``stoxlify`` command: run, chat, say, worker, api."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from bots.console import DEFAULT_OUT


def secret_values(settings: Any) -> list[str]:
    """Every secret the settings hold (each ``SecretStr`` field, and each one in a list of them)."""
    from pydantic import SecretStr

    found: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        for item in value if isinstance(value, list | tuple | set) else (value,):
            if isinstance(item, SecretStr) and item.get_secret_value():
                found.append(item.get_secret_value())
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stoxlify", description="Stoxlify trading assistant")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("run", help="start the configured chat transports and jobs (console when no token is set)")
    chat = sub.add_parser("chat", help="talk to the bot in this terminal")
    chat.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where chart images are written")
    say = sub.add_parser("say", help="run one command, print the reply, write images")
    say.add_argument("line", help='a command line, such as "/market BBCA 1d"')
    say.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where chart images are written")
    sub.add_parser("worker", help="compute for the bots of this installation (COMPUTE=queue), until stopped")
    sub.add_parser("api", help="serve the HTTP API alone (API_LISTEN:API_PORT), until stopped")
    args = parser.parse_args(argv)

    from core.config import get_settings
    from core.logging import configure

    settings = get_settings()
    configure(  # before any entry point runs
        settings.log_level, settings.log_format, secret_values(settings), chat_payloads=settings.log_chat_payloads
    )

    from core.errors import StoxlifyError

    try:
        return _start(args, settings)
    except StoxlifyError as exc:  # the database unreachable, a setting missing: one clear line, no traceback
        print(f"stoxlify: {exc.message}" + (f"\n  {exc.hint}" if exc.hint else ""), file=sys.stderr)
        return 2


def _start(args: argparse.Namespace, settings: Any) -> int:
    from bots.console import transport

    if args.cmd == "say":
        return asyncio.run(transport.say(args.line, args.out))
    if args.cmd == "chat":
        return asyncio.run(transport.chat(args.out))
    if args.cmd == "worker":
        return _worker(settings)
    if args.cmd == "api":
        return serve_forever(_api(settings))
    from bots.runner import run

    return serve_forever(run(settings))


def serve_forever[T](main: Coroutine[Any, Any, T]) -> T:
    """The long-running entry points (run, api, worker) on uvloop, the loop uvicorn itself picks:
    the same asyncio interface at a fraction of asyncio's cost per socket event, which is most of
    what an HTTP request or a chat update costs us. ``say`` and ``chat`` keep asyncio's own."""
    import uvloop

    return uvloop.run(main)


async def _api(settings: Any) -> int:
    """The HTTP API without chat transports or jobs (another process runs those), until SIGINT or SIGTERM."""
    import signal

    from api.server import serve
    from bots.bootstrap import build, prepare_to_serve

    app = await build(settings)
    await prepare_to_serve(app)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await serve(app.core, stop)
    finally:
        await app.core.close()
    return 0


def _worker(settings: Any) -> int:
    """Serve the compute queue until SIGINT or SIGTERM; tasks in hand finish or go back to the queue."""
    import contextlib
    import signal

    from core.compute.queue import serve

    async def main() -> None:
        task = asyncio.create_task(serve(settings))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    serve_forever(main())
    return 0


if __name__ == "__main__":
    sys.exit(main())
