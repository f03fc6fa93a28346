"""Imported by every MiniStack Lambda worker (tests/deploy puts this folder on its PYTHONPATH): appends each line the
worker reads from stdin (its init line, then one ``{"event": ..., "ctx": ...}`` per invocation), as it arrived, to the
file E2E_EVENTS_FILE names. The handler, its code and its environment are not touched; MiniStack itself (no
_LAMBDA_FUNCTION_ARN) is left alone.
"""

import os
import sys

if os.environ.get("E2E_EVENTS_FILE") and os.environ.get("_LAMBDA_FUNCTION_ARN"):
    _readline = sys.stdin.readline

    def _recorded(*args: int) -> str:
        line = _readline(*args)
        with open(os.environ["E2E_EVENTS_FILE"], "a", encoding="utf-8") as out:
            out.write(line.rstrip("\n") + "\n" if line else "")
        return line

    sys.stdin.readline = _recorded  # type: ignore[method-assign]
