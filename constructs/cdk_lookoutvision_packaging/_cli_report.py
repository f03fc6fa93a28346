"""How the CLI reports: elapsed times, the result in json or text, and progress on stderr."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from cdk_lookoutvision_packaging_handler import outbound


def format_elapsed(seconds: float) -> str:
    """``4.2s``, ``2m05s`` or ``1h02m05s``."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def format_duration(seconds: float) -> str:
    """A duration as the options take it: ``45m``, ``1h30m``, ``90s`` is ``1m30s``, ``0.2s``."""
    if seconds < 60 or seconds != int(seconds):
        return f"{seconds:g}s"
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s" if secs else ""]
    return "".join(parts)


def format_result(attributes: dict[str, str], output: str) -> str:
    if output == "json":
        return json.dumps(attributes)
    return "\n".join(f"{key}: {outbound.one_line(value)}".rstrip() for key, value in attributes.items())


@dataclass
class Progress:
    """Reports status changes and retries on stderr, each with the time elapsed since the wait began."""

    job: str
    stream: IO[str]
    now: Callable[[], float]
    start: float
    deadline: float = math.inf
    retries: int = 0
    retries_reported: int = field(default=0, repr=False)

    def elapsed(self) -> str:
        return format_elapsed(self.now() - self.start)

    def line(self, text: str) -> None:
        print(f"[{self.elapsed():>8}] {text}", file=self.stream, flush=True)

    def on_status(self, status: str, description: dict[str, Any]) -> None:
        text = f"{self.job}: {status or '(no status)'}"
        message = outbound.one_line(str(description.get("StatusMessage") or ""))
        if message:
            text += f" - {message}"
        if self.retries > self.retries_reported:
            text += f" ({self.retries} {'retry' if self.retries == 1 else 'retries'} so far)"
            self.retries_reported = self.retries
        self.line(text)

    def on_retry(self, problem: Any, delay: float) -> None:
        # wait_for_job reports a failure before it looks at its deadline, and its sleeps never pass the deadline:
        # announce the retry that will really happen, or none.
        remaining = self.deadline - self.now()
        if remaining <= 0:
            self.line(f"{self.job}: {problem.message}; no time left to retry")
            return
        self.retries += 1
        self.line(f"{self.job}: {problem.message}; retry {self.retries} in {min(delay, remaining):.1f}s")
