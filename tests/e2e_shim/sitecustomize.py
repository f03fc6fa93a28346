"""Imported by every MiniStack Lambda worker (tests/e2e_support.py puts this folder on its PYTHONPATH): copies each
``{"event": ..., "ctx": ...}`` line the worker reads from stdin, as it arrived, to the file E2E_EVENTS_FILE names.
The handler, its code and its environment are not touched; MiniStack itself (no _LAMBDA_FUNCTION_ARN) is left alone.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


class _Tee:
    def __init__(self, stream: Any, path: str) -> None:
        self._stream, self._path = stream, path

    def readline(self, *args: Any) -> Any:
        line = self._stream.readline(*args)
        try:
            envelope = json.loads(line) if line else None
        except ValueError:
            envelope = None
        if isinstance(envelope, dict) and "event" in envelope:
            with open(self._path, "a", encoding="utf-8") as out:
                out.write(line if line.endswith("\n") else line + "\n")
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


if os.environ.get("E2E_EVENTS_FILE") and os.environ.get("_LAMBDA_FUNCTION_ARN"):
    sys.stdin = _Tee(sys.stdin, os.environ["E2E_EVENTS_FILE"])
