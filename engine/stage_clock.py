"""Where an index run's time goes: seconds per pipeline stage, for `ris index` and `just bench`.

Each stage of the main process (waiting for decoded frames, detecting, embedding, storing) is
timed where it runs; decoding's own work happens in the worker processes, which report the
seconds each chunk of frames took, so "decode" has busy time (summed over workers) and the
main process's wait for it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

STAGES = ("decode", "detect", "embed", "store")


@dataclass
class StageClock:
    busy: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    waited: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))

    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @contextmanager
    def busy_in(self, stage: str) -> Iterator[None]:
        """Time spent in `stage` (detection threads time theirs at once: the sum may exceed
        the run's length)."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            with self._lock:
                self.busy[stage] += time.perf_counter() - t0

    @contextmanager
    def waiting_for(self, stage: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.waited[stage] += time.perf_counter() - t0

    def timed(self, stage: str, items: Iterator) -> Iterator:  # type: ignore[type-arg]
        """`items`, with the time spent waiting for each counted as waiting for `stage`."""
        while True:
            with self.waiting_for(stage):
                try:
                    item = next(items)
                except StopIteration:
                    return
            yield item
