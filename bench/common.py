"""Paths, the child-process environment and small statistics shared by the benchmark's figures."""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Sequence
from pathlib import Path

from harness.offline import offline_env

ROOT = Path(__file__).resolve().parents[1]
NEWEST_BOTO3 = ROOT / ".deps" / "boto3-newest"
NODE_BIN = ROOT / "node_modules" / ".bin"


def cdk_env() -> dict[str, str]:
    """The environment of a synth subprocess: this one, offline, with the pinned Node.js first on PATH."""
    env = offline_env()
    if NODE_BIN.is_dir() and not env.get("PATH", "").startswith(str(NODE_BIN)):
        env["PATH"] = f"{NODE_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def median(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("median of no values")
    return float(statistics.median(values))


def ceil_ms(seconds: float) -> float:
    """Lambda bills duration rounded up to the next millisecond."""
    return math.ceil(round(seconds * 1000.0, 6)) / 1000.0
