"""The compute plane: every piece of CPU work (indicators, scripts, backtests, charts) runs here,
never on the event loop. See ``core.compute.executor``."""

from core.compute.executor import Compute, ComputeLimit, InlineCompute, ProcessCompute, Task, open_compute

__all__ = ["Compute", "ComputeLimit", "InlineCompute", "ProcessCompute", "Task", "open_compute"]
