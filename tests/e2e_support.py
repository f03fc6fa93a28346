"""Child processes of the slow suites: the real CDK CLI, and MiniStack (a local AWS emulator in .deps/ministack).

Each runs in its own session and is stopped by process group, SIGTERM then SIGKILL: the CLI's app and MiniStack's
Lambda workers are its children, and a hung MiniStack ignores SIGTERM.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from support import ROOT, HarnessError, offline_env, wait_until

VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
NODE_BIN = ROOT / "node_modules" / ".bin"
MINISTACK_VENV = ROOT / ".deps" / "ministack"
MINISTACK_BIN = MINISTACK_VENV / "bin" / "ministack"
ACCOUNT = "000000000000"
REGION = "us-east-1"


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
    """Run a command to its end (bounded); its stdout and stderr as one text in ``output``."""
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


class MiniStack:
    """One MiniStack on a free port of 127.0.0.1. It runs Python functions as workers of its own interpreter with its
    own environment, so that environment is built from scratch: ``environment`` and what it needs to run. The workers
    import tests/e2e_shim, which records each event they receive."""

    def __init__(self, work_dir: Path, environment: Mapping[str, str]) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.work_dir, self.events_file = work_dir, work_dir / "events.jsonl"
        self.environment = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(work_dir),
            "TMPDIR": str(work_dir),
            "GATEWAY_PORT": str(port),
            "BIND_HOST": "127.0.0.1",
            "MINISTACK_HOST": "127.0.0.1",  # the host of the ResponseURL it hands to custom resources
            "LOG_LEVEL": "INFO",
            "PYTHONPATH": str(Path(__file__).parent / "e2e_shim"),
            "E2E_EVENTS_FILE": str(self.events_file),
            **environment,
        }

    def __enter__(self) -> MiniStack:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        log = self.work_dir / "ministack.log"
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                [str(MINISTACK_BIN)],
                cwd=self.work_dir,
                env=self.environment,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_until(self._healthy, 60, f"MiniStack to answer on {self.url}", poll_s=0.2)
        except BaseException as exc:
            self.__exit__()
            exc.add_note(f"MiniStack's log ends:\n{log.read_text(errors='replace')[-3000:]}")
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        stop_process_group(self.process)

    def _healthy(self) -> bool:
        if self.process.poll() is not None:
            raise HarnessError(f"MiniStack exited ({self.process.returncode})")
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{self.url}/_ministack/health", timeout=2) as r:  # noqa: S310
            return bool(r.status == 200)
        return False

    def events(self) -> list[dict[str, Any]]:
        """Every event a function worker received, in order."""
        lines = self.events_file.read_text().splitlines() if self.events_file.exists() else []
        return [json.loads(line)["event"] for line in lines if line.strip()]

    def client(self, service: str) -> Any:
        import boto3

        keys = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}  # its own account (ACCOUNT)
        return boto3.session.Session(region_name=REGION, **keys).client(service, endpoint_url=self.url)

    def cli_environment(self) -> dict[str, str]:
        return cli_env(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_ENDPOINT_URL=self.url)
