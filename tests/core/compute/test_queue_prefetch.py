"""A worker reads one message of the stream at a time (bench/burst.py: with taskiq-redis's default of
100, the first worker to read took every queued task and held those it could not yet run, while the
other workers idled: 2 workers gave 1.03x one worker's throughput, 1.27x once each read one)."""

from core.compute.queue import make_broker
from core.config import Settings


def test_workers_do_not_hoard_queued_tasks() -> None:
    broker = make_broker(Settings(compute="queue", redis_url="redis://127.0.0.1:6379/0"))
    assert broker.count == 1
