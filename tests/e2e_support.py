"""Child processes of the slow suites. The real CDK CLI (and MiniStack) each run in their own session and are stopped
by process group, SIGTERM then SIGKILL, since the CLI's app and MiniStack's Lambda workers are their children and a
hung MiniStack ignores SIGTERM.

And a local AWS Lambda for the asset `cdk synth` wrote: an execution environment is a process
``python -S -m awslambdaric <Handler>`` in the asset's directory (playing /var/task) with awslambdaric and the newest
boto3 (playing /var/runtime, on Python 3.13 where the machine has it), polling a Runtime API on 127.0.0.1. As in Lambda,
an idle environment is frozen (SIGSTOP), one past its deadline is killed, and a loopback lambda:Invoke queues Event
calls, so that a handed-off wait continues end to end."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from support import (
    FUNCTION_ARN,
    OFFLINE_ENV,
    ROOT,
    FakeGreengrass,
    FakeLookoutVision,
    HarnessError,
    LoopbackServer,
    offline_env,
    read_body,
    reply,
    wait_until,
)

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


RUNTIME_TARGET = "3.13"  # the construct's RUNTIME; make setup names the interpreter in .deps/runtime-py313/.python
_NAMED = ROOT / ".deps" / "runtime-py313" / ".python"
if _NAMED.is_file():
    RUNTIME_PYTHON, RUNTIME_DIR, RUNTIME_NOTE = Path(_NAMED.read_text().strip()), _NAMED.parent, ""
else:
    RUNTIME_PYTHON, RUNTIME_DIR = VENV_PYTHON, ROOT / ".deps" / "boto3-newest"
    RUNTIME_NOTE = f"no Python {RUNTIME_TARGET} on this machine: the asset runs on the venv's Python ({VENV_PYTHON})"
FUNCTION_NAME = FUNCTION_ARN.rsplit(":", 1)[-1]


@dataclass(frozen=True)
class FunctionSpec:
    """What the template says about the handler function that the runtime reads. Its Runtime is RUNTIME_TARGET, its
    LoggingConfig sets no LogFormat (tests/construct/test_construct.py), and nothing reads its MemorySize."""

    handler: str
    environment: dict[str, str]
    timeout_s: float
    asset_dir: Path  # plays /var/task; a test that injects a fault into the asset passes a copy


@dataclass
class Invocation:
    """One asynchronous invocation and what became of it."""

    payload: bytes
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    env: ExecutionEnvironment | None = None
    dispatched_at: float | None = None
    deadline: float | None = None  # epoch seconds
    finished_at: float | None = None
    status: str = "queued"  # queued | running, then success | error | timed_out | crashed | init_failed
    result: bytes = b""

    def end(self, status: str, result: bytes = b"") -> bool:
        """Note how it ended, unless it already has (the caller holds the function's lock); whether it ended now."""
        if self.finished_at is not None:
            return False
        self.status, self.finished_at, self.result = status, time.time(), result
        return True


@dataclass
class ExecutionEnvironment:
    """One sandbox: the runtime process, polling the Runtime API under the path of its number."""

    process: subprocess.Popen[bytes]
    state: str = "init"  # init | ready | busy | dead
    current: Invocation | None = None


class LocalLambda(LoopbackServer):
    """The function, run with one execution environment at a time (a cold start when an invocation finds none),
    served as lambda:Invoke on 127.0.0.1 with the loopback Lookout for Vision and Greengrass it calls (every
    component version DEPLOYABLE unless a test scripts it). Every invocation gets the spec's timeout. The same server
    serves environment n its Runtime API under /n (awslambdaric appends its paths to AWS_LAMBDA_RUNTIME_API), so
    that the requests of a killed environment are told apart."""

    def __init__(self, spec: FunctionSpec) -> None:
        super().__init__()
        self.spec = spec
        self.lookoutvision: FakeLookoutVision = FakeLookoutVision().__enter__()
        self.greengrass: FakeGreengrass = FakeGreengrass(default="DEPLOYABLE").__enter__()
        self.invocations: list[Invocation] = []
        self.environments: list[ExecutionEnvironment] = []
        self.logs: list[str] = []  # every line the runtime processes logged, in the order read
        self._queue: deque[Invocation] = deque()
        self._cv = threading.Condition()
        self._closed = False

    def __exit__(self, *exc: object) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        for env in self.environments:
            env.process.kill()  # like send_signal, a no-op once the process is gone
        self.lookoutvision.__exit__()
        self.greengrass.__exit__()
        super().__exit__()

    def process_environment(self, runtime_api: str) -> dict[str, str]:
        """The variables of a Lambda sandbox that awslambdaric, boto3 or the handler read, then the function's own
        (/var/task: the asset's directory). No AWS config or credentials file (HOME does not exist) configures boto3."""
        return {
            "HOME": str(self.spec.asset_dir.parent / "no-home"),
            "PYTHONPATH": os.pathsep.join([str(self.spec.asset_dir), str(RUNTIME_DIR)]),
            "AWS_LAMBDA_RUNTIME_API": runtime_api,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_python{RUNTIME_TARGET}",
            "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
            "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d', time.gmtime())}/[$LATEST]{uuid.uuid4().hex}",
            **OFFLINE_ENV,
            "AWS_SESSION_TOKEN": "test-session-token",  # Lambda hands out temporary credentials
            "AWS_ENDPOINT_URL_LOOKOUTVISION": self.lookoutvision.url,
            "AWS_ENDPOINT_URL_GREENGRASSV2": self.greengrass.url,
            "AWS_ENDPOINT_URL_LAMBDA": self.url,
            **{k: v.replace("/var/task", str(self.spec.asset_dir)) for k, v in self.spec.environment.items()},
        }

    def invoke(self, payload: Any) -> None:
        """Queue an asynchronous invocation."""
        invocation = Invocation(payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8"))
        with self._cv:
            self.invocations.append(invocation)
            self._queue.append(invocation)
            self._cv.notify_all()
            self._cold_start_if_needed()

    def _cold_start_if_needed(self) -> None:
        """The caller holds the lock."""
        if not self._queue or self._closed or any(e.state != "dead" for e in self.environments):
            return
        process = subprocess.Popen(
            [str(RUNTIME_PYTHON), "-S", "-m", "awslambdaric", self.spec.handler],
            cwd=self.spec.asset_dir,
            env=self.process_environment(f"{self.url.removeprefix('http://')}/{len(self.environments)}"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.environments.append(env := ExecutionEnvironment(process))
        threading.Thread(target=self._watch, args=(env,), daemon=True).start()

    def _watch(self, env: ExecutionEnvironment) -> None:
        """Keep each line the process logs (awslambdaric writes them to stdout, a record's own newlines as \\r); when
        it exits, the environment is dead, and a cold start that failed fails its invocation as Lambda does, rather
        than retrying init forever."""
        assert env.process.stdout is not None
        for raw in env.process.stdout:
            self.logs.extend(line for line in re.split(r"[\r\n]+", raw.decode(errors="replace")) if line.strip())
        env.process.wait()
        with self._cv:
            previous, env.state = env.state, "dead"
            if env.current is not None:
                env.current.end("crashed")
            if previous == "init" and not self._closed and self._queue:
                self._queue.popleft().end("init_failed")
            self._cold_start_if_needed()

    def _next(self, request: BaseHTTPRequestHandler, env: ExecutionEnvironment) -> None:
        """Answer ``env``'s long poll with the next invocation, frozen while it waits; or, shutting down, with a 500."""
        with self._cv:
            env.state = "ready"
            if not self._queue:
                env.process.send_signal(signal.SIGSTOP)
            self._cv.wait_for(lambda: bool(self._queue) or env.state == "dead" or self._closed)
            if env.state == "dead" or self._closed:  # the process is about to be killed
                request.close_connection = True
                return reply(request, 500, b"{}")
            invocation = self._queue.popleft()
            invocation.env, invocation.status, invocation.dispatched_at = env, "running", time.time()
            invocation.deadline = deadline = invocation.dispatched_at + self.spec.timeout_s
            env.state, env.current = "busy", invocation
            timer = threading.Timer(self.spec.timeout_s, self._deadline_passed, (env, invocation))
            timer.daemon = True  # once the invocation ended, it finds nothing to do
            timer.start()
            env.process.send_signal(signal.SIGCONT)
        headers = {
            "Content-Type": "application/json",  # awslambdaric's client crashes (SIGSEGV) without it
            "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
            "Lambda-Runtime-Deadline-Ms": str(int(deadline * 1000)),
            "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
        }
        reply(request, 200, invocation.payload, headers)

    def _deadline_passed(self, env: ExecutionEnvironment, invocation: Invocation) -> None:
        with self._cv:
            if not invocation.end("timed_out"):
                return
            env.state = "dead"
        env.process.kill()  # "Task timed out": Lambda kills the environment

    def wait_request(self, request_id: str, timeout_s: float) -> list[Invocation]:
        """The invocations whose event carries CloudFormation RequestId ``request_id``, in the order queued, once all
        ended (a hand-off queues the next invocation before returning)."""
        chain: list[Invocation] = []

        def ended() -> bool:
            with self._cv:
                chain[:] = [i for i in self.invocations if json.loads(i.payload).get("RequestId") == request_id]
            return bool(chain) and all(i.finished_at is not None for i in chain)

        wait_until(ended, timeout_s, f"the invocations of request {request_id} to end")
        return chain

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        """The Runtime API of each environment, and lambda:Invoke of this function: a SigV4-signed Event call answers
        202 and queues an invocation. Anything else gets a 400 (/init/error among them: the process exits next)."""
        body = read_body(request)
        runtime = re.fullmatch(r"/(\d+)/2018-06-01/runtime/invocation/(?:next|([^/]+)/(response|error))", request.path)
        if runtime and runtime[2] is None:
            self._next(request, self.environments[int(runtime[1])])
        elif runtime:
            with self._cv:
                current = self.environments[int(runtime[1])].current
                if current is not None and current.request_id == unquote(runtime[2]):
                    current.end("success" if runtime[3] == "response" else "error", body)
            reply(request, 202, b"{}")
        elif (
            unquote(request.path) in {f"/2015-03-31/functions/{f}/invocations" for f in (FUNCTION_NAME, FUNCTION_ARN)}
            and request.headers.get("X-Amz-Invocation-Type") == "Event"
            and str(request.headers.get("Authorization", "")).startswith("AWS4-HMAC-SHA256 ")
        ):
            self.invoke(body)
            reply(request, 202)
        else:
            reply(request, 400, b"{}")
