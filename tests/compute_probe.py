"""Task functions for the compute tests: module-level, so worker processes can import them."""

from __future__ import annotations

import os
import time


def square(x: int) -> int:
    return x * x


def spin(seconds: float) -> float:
    """Burn CPU without ever yielding (like an indicator call inside a script)."""
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
    return seconds


def allocate(megabytes: int) -> int:
    return len(bytearray(megabytes * 1024 * 1024))


def pid() -> int:
    return os.getpid()


def die() -> None:
    os._exit(9)


def nap_pid(seconds: float) -> int:
    """Sleep (so concurrent naps spread over the workers), and say which process ran it."""
    time.sleep(seconds)
    return os.getpid()
