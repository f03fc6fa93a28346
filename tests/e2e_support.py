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
NODE_BIN = ROOT / "node_modules" / ".bin"


def cli_env(**extra: str) -> dict[str, str]:
    """The offline environment for the CDK CLI, with the pinned Node.js and the venv first on PATH and nothing of
    this process's AWS, CDK or PYTHONPATH settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_")) and k != "PYTHONPATH"}
    path = os.pathsep.join([str(NODE_BIN), str(VENV_PYTHON.parent), os.environ.get("PATH", "")])
    return offline_env(env, PATH=path, **extra)


def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)


def run_cli(args: Sequence[str], env: Mapping[str, str], *, cwd: Path = ROOT, timeout_s: float = 300.0) -> Any:
    """Run a command to its end (bounded); its stdout and stderr as one text in ``stdout``."""
    process = subprocess.Popen(
        args,
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise HarnessError(f"{' '.join(args)} did not finish within {timeout_s:.0f} s") from None
    finally:
        stop_process_group(process)
    return subprocess.CompletedProcess(args, process.returncode, output.decode(errors="replace"))


def check(result: Any) -> Any:
    if result.returncode != 0:
        raise HarnessError(f"{' '.join(result.args)} exited {result.returncode}:\n{result.stdout[-6000:]}")
    return result


def cdk(*args: str) -> list[str]:
    return [str(NODE_BIN / "cdk"), *args]
