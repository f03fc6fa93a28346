"""The offline world that the tests, the benchmark and their child processes run in: its environment, and virtual time,
so that the handler's waits are run without anyone really waiting."""

from __future__ import annotations

import os
import random
from collections.abc import Mapping

from cdk_lookoutvision_packaging_handler.outbound import Clock

# What every test, benchmark and child process runs with: the documented example keys, a Region and no
# instance-metadata lookups, so no AWS client can reach AWS; and the switches that quiet jsii and the CDK CLI.
OFFLINE_ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AWS_EC2_METADATA_DISABLED": "true",
    "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
    "CDK_DISABLE_VERSION_CHECK": "1",
    "CDK_DISABLE_CLI_TELEMETRY": "true",
}
# What a developer's shell may set that would send a call elsewhere.
ONLINE_VARS = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_LOOKOUTVISION")


def offline_env(base: Mapping[str, str] = os.environ, **extra: str) -> dict[str, str]:
    """``base`` (pass ``{}`` to start from scratch) without ONLINE_VARS, with OFFLINE_ENV and then ``extra``."""
    return {**{k: v for k, v in base.items() if k not in ONLINE_VARS}, **OFFLINE_ENV, **extra}


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
