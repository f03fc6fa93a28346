"""Virtual time, so that the handler's waits are run without anyone really waiting."""

from __future__ import annotations

import random

from cdk_lookoutvision_packaging_handler.outbound import Clock


class VirtualClock:
    """Time that only moves when someone sleeps on it; ``clock()`` is the outbound.Clock that runs on it."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.t = self.start = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"negative sleep {seconds}")
        self.sleeps.append(seconds)
        self.t += seconds

    def clock(self, seed: int = 7) -> Clock:
        return Clock(now=self.now, sleep=self.sleep, rng=random.Random(seed))
