"""MiniStack (a local AWS emulator, in its own venv under .deps/ministack) and the real CDK CLI driven against it.

MiniStack runs CloudFormation, S3, IAM, SSM, Logs and Lambda on one port, and runs Python functions as worker
processes of its own interpreter, passing them its own environment. So it is started here with an environment built
from scratch that holds only what the test means to pass on (a Lookout for Vision endpoint, the event recorder of
tests/e2e_shim), in its own session, and stopped by process group: SIGTERM, then SIGKILL after a grace period (a hung
MiniStack ignores SIGTERM).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support import HarnessError, offline_env, wait_until

ROOT = Path(__file__).resolve().parents[1]
MINISTACK_VENV = ROOT / ".deps" / "ministack"
MINISTACK_BIN = MINISTACK_VENV / "bin" / "ministack"
NODE_BIN = ROOT / "node_modules" / ".bin"
SHIM_DIR = Path(__file__).resolve().parent / "e2e_shim"
ACCOUNT = "000000000000"
REGION = "us-east-1"
# MiniStack accepts any signature; its own default keys keep it in its one account (ACCOUNT).
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
STOP_GRACE_S = 5.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process_group(process: subprocess.Popen[bytes], grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM the process's group, then SIGKILL it if anything is left after ``grace_s``."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace_s)
    # The group also holds MiniStack's Lambda workers, which may outlive their parent's exit.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace_s)


class MiniStack:
    """One MiniStack on 127.0.0.1 on a free port. ``environment`` is all it (and every function it runs) gets,
    beyond what it needs to run at all."""

    def __init__(self, work_dir: Path, environment: Mapping[str, str]) -> None:
        self.work_dir = work_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.events_file = work_dir / "events.jsonl"
        self.log_file = work_dir / "ministack.log"
        self.environment = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(work_dir),
            "TMPDIR": str(work_dir),
            "GATEWAY_PORT": str(self.port),
            "BIND_HOST": "127.0.0.1",
            # The host of the ResponseURL it hands to custom resources.
            "MINISTACK_HOST": "127.0.0.1",
            "LOG_LEVEL": "INFO",
            "PYTHONPATH": str(SHIM_DIR),
            "E2E_EVENTS_FILE": str(self.events_file),
            **environment,
        }
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> MiniStack:
        if not MINISTACK_BIN.exists():
            raise HarnessError(f"{MINISTACK_BIN} is missing: run `make setup`")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "wb") as log:
            self.process = subprocess.Popen(
                [str(MINISTACK_BIN)],
                cwd=self.work_dir,
                env=self.environment,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_until(self._healthy, 60, f"MiniStack to answer on {self.url}", poll_s=0.2)
        except BaseException as exc:
            self.__exit__()
            exc.add_note(f"MiniStack's log ends:\n{self.log()[-3000:]}")
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            stop_process_group(self.process)

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise HarnessError(f"MiniStack exited ({self.process.returncode})")
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{self.url}/_ministack/health", timeout=2) as r:  # noqa: S310
            return bool(r.status == 200)
        return False

    def python_version(self) -> str:
        """The interpreter MiniStack runs Python functions on: its own."""
        result = subprocess.run(
            [str(MINISTACK_VENV / "bin" / "python"), "--version"], capture_output=True, text=True, timeout=30
        )
        return (result.stdout or result.stderr).strip()

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def events(self) -> list[dict[str, Any]]:
        """Every event a function worker received, in order."""
        if not self.events_file.exists():
            return []
        return [json.loads(line)["event"] for line in self.events_file.read_text().splitlines() if line.strip()]

    def client(self, service: str) -> Any:
        import boto3

        keys = {"aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": "test"}
        return boto3.session.Session(region_name=REGION, **keys).client(service, endpoint_url=self.url)

    def cli_environment(self) -> dict[str, str]:
        """What the CDK CLI and the pipeline CLI get: the offline environment pointed at this endpoint."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_")) and k != "PYTHONPATH"}
        path = os.pathsep.join([str(NODE_BIN), str(ROOT / ".venv" / "bin"), os.environ.get("PATH", "")])
        return offline_env(env, **CREDENTIALS, AWS_ENDPOINT_URL=self.url, PATH=path)


@dataclass
class CliResult:
    args: Sequence[str]
    returncode: int
    output: str
    seconds: float

    def check(self) -> CliResult:
        if self.returncode != 0:
            raise HarnessError(f"{' '.join(self.args)} exited {self.returncode}:\n{self.output[-6000:]}")
        return self


def run_cli(args: Sequence[str], env: Mapping[str, str], *, cwd: Path = ROOT, timeout_s: float = 300.0) -> CliResult:
    """Run a command to its end (bounded), its stdout and stderr as one text."""
    started = time.monotonic()
    process = subprocess.Popen(
        list(args),
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
        stop_process_group(process)
        raise HarnessError(f"{' '.join(args)} did not finish within {timeout_s:.0f} s") from None
    finally:
        if process.poll() is None:
            stop_process_group(process)
    return CliResult(list(args), process.returncode, output.decode(errors="replace"), time.monotonic() - started)


def cdk(*args: str) -> list[str]:
    return [str(NODE_BIN / "cdk"), *args]


def outputs_by_suffix(outputs: Mapping[str, str], suffix: str) -> str:
    """The one output whose logical id ends with ``suffix`` (the prefix is add_outputs()' choice)."""
    found = [value for key, value in outputs.items() if key.endswith(suffix)]
    if len(found) != 1:
        raise HarnessError(f"expected one output ending in {suffix}, found {len(found)} in {dict(outputs)}")
    return found[0]
