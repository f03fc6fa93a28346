"""Shared pytest set-up: the offline AWS environment and the pinned Node.js on PATH."""

from __future__ import annotations

import os

from support import OFFLINE_ENV, ONLINE_VARS, ROOT

# No test may reach AWS (support.OFFLINE_ENV).
for _var in ONLINE_VARS:
    os.environ.pop(_var, None)
os.environ.update(OFFLINE_ENV)
# jsii runs on the pinned Node.js from npm (make setup installs it), never on an end-of-life system node.
_node_bin = ROOT / "node_modules" / ".bin"
if _node_bin.is_dir() and not os.environ.get("PATH", "").startswith(str(_node_bin)):
    os.environ["PATH"] = f"{_node_bin}{os.pathsep}{os.environ.get('PATH', '')}"
