"""Imported by every MiniStack Lambda worker (tests/deploy puts this folder on its PYTHONPATH): appends each
``{"event": ..., "ctx": ...}`` line the worker reads from stdin, as it arrived, to the file E2E_EVENTS_FILE names.
The handler, its code and its environment are not touched; MiniStack itself (no _LAMBDA_FUNCTION_ARN) is left alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from typing import Any


class _Tee:
    def __init__(self, stream: Any, path: str) -> None:
        self._stream, self._path = stream, path

    def readline(self, *args: Any) -> Any:
        line = self._stream.readline(*args)
        with contextlib.suppress(ValueError):
            if isinstance(envelope := json.loads(line), dict) and "event" in envelope:
                with open(self._path, "a", encoding="utf-8") as out:
                    out.write(line.rstrip("\n") + "\n")
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


if os.environ.get("E2E_EVENTS_FILE") and os.environ.get("_LAMBDA_FUNCTION_ARN"):
    sys.stdin = _Tee(sys.stdin, os.environ["E2E_EVENTS_FILE"])
