"""Child processes of the slow suites, the real CDK CLI among them: each runs in its own session and is stopped by
process group, SIGTERM then SIGKILL, since the CLI's app and MiniStack's Lambda workers are its children and a hung
MiniStack ignores SIGTERM."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from support import ROOT, HarnessError, offline_env

VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
TIMEOUT_S = 300.0


def cli_env(**extra: str) -> dict[str, str]:
    """The offline environment for the CDK CLI, with the pinned Node.js and the venv first on PATH and nothing of
    this process's AWS, CDK or PYTHONPATH settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_")) and k != "PYTHONPATH"}
    path = os.pathsep.join([str(ROOT / "node_modules" / ".bin"), str(VENV_PYTHON.parent), os.environ.get("PATH", "")])
    return offline_env(env, PATH=path, **extra)


def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)


def run_cli(args: Sequence[str], env: Mapping[str, str], *, cwd: Path = ROOT, check: bool = True) -> Any:
    """Run a command to its end (bounded), failing unless it exits 0 if ``check``; stdout and stderr in ``stdout``."""
    process = subprocess.Popen(
        args,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output = process.communicate(timeout=TIMEOUT_S)[0].decode(errors="replace")
    finally:
        stop_process_group(process)
    if check and process.returncode != 0:
        raise HarnessError(f"{' '.join(args)} exited {process.returncode}:\n{output[-6000:]}")
    return subprocess.CompletedProcess(args, process.returncode, output)
