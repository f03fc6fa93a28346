"""Records every event a MiniStack Lambda worker hands to its handler, for tests/deploy/test_deploy_ministack.py.

MiniStack runs a Python function as a worker process that reads one JSON line per invocation from stdin
(``{"event": ..., "ctx": ...}``) and passes ``event`` to the handler unchanged. The end-to-end suite puts this
directory on MiniStack's PYTHONPATH, so every worker imports this module at start-up; it copies those lines, as they
arrived, to the file named by E2E_EVENTS_FILE. The handler's code and its own environment are not touched. In any
other process (MiniStack itself, which has no _LAMBDA_FUNCTION_ARN) it does nothing.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

_EVENTS_FILE = os.environ.get("E2E_EVENTS_FILE")


class _Tee:
    def __init__(self, stream: Any, path: str) -> None:
        self._stream = stream
        self._path = path

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


if _EVENTS_FILE and os.environ.get("_LAMBDA_FUNCTION_ARN"):
    sys.stdin = _Tee(sys.stdin, _EVENTS_FILE)
