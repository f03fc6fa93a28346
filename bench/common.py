"""Paths, the child-process environment and small statistics shared by the benchmark's figures."""

from __future__ import annotations

import math
import os
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS_DIR = ROOT / "tests"
NEWEST_BOTO3 = ROOT / ".deps" / "boto3-newest"
NODE_BIN = ROOT / "node_modules" / ".bin"

# Offline and deterministic: fake credentials, a Region, no instance-metadata lookups, no CDK version checks.
OFFLINE_ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",  # the documented example key
    "AWS_EC2_METADATA_DISABLED": "true",
    "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
    "CDK_DISABLE_VERSION_CHECK": "1",
    "CDK_DISABLE_CLI_TELEMETRY": "true",
}


def use_project_paths() -> None:
    """Make the test doubles (support) importable, the way pytest does through pyproject's ``pythonpath`` (the
    handler package is installed, as ``make setup`` does)."""
    for path in (TESTS_DIR,):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))


def cdk_env() -> dict[str, str]:
    """The environment of a synth subprocess: this one, offline, with the pinned Node.js first on PATH."""
    env = {**os.environ, **OFFLINE_ENV}
    path = env.get("PATH", "")
    if NODE_BIN.is_dir() and not path.startswith(str(NODE_BIN)):
        env["PATH"] = f"{NODE_BIN}{os.pathsep}{path}"
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_LOOKOUTVISION"):
        env.pop(name, None)
    return env


def median(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("median of no values")
    return float(statistics.median(values))


def ceil_ms(seconds: float) -> float:
    """Lambda bills duration rounded up to the next millisecond."""
    return math.ceil(round(seconds * 1000.0, 6)) / 1000.0
