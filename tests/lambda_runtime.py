"""A local AWS Lambda for the asset `cdk synth` wrote: an execution environment is a process
``python -S -m awslambdaric <Handler>`` in a copy of the asset (playing /var/task) with awslambdaric and the newest
boto3 (playing /var/runtime, on Python 3.13 where the machine has it), served a Runtime API on 127.0.0.1. As in Lambda,
an idle environment is frozen (SIGSTOP), one past its deadline is killed, and a loopback lambda:Invoke queues Event
calls, so that a handed-off wait continues end to end."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from e2e_support import ROOT, VENV_PYTHON, cdk, check, cli_env, run_cli
from support import (
    FUNCTION_ARN,
    OFFLINE_ENV,
    FakeGreengrass,
    FakeLookoutVision,
    LoopbackServer,
    read_body,
    reply,
    wait_until,
)

RUNTIME_TARGET = "3.13"  # the construct's RUNTIME; make setup names the interpreter in .deps/runtime-py313/.python
_RUNTIME313 = ROOT / ".deps" / "runtime-py313"
_NAMED = (_RUNTIME313 / ".python").read_text().strip() if (_RUNTIME313 / ".python").is_file() else ""
if _NAMED and Path(_NAMED).is_file() and (_RUNTIME313 / "awslambdaric").is_dir():
    RUNTIME_PYTHON, RUNTIME_DIR, RUNTIME_NOTE = Path(_NAMED), _RUNTIME313, ""
else:
    RUNTIME_PYTHON, RUNTIME_DIR = VENV_PYTHON, ROOT / ".deps" / "boto3-newest"
    RUNTIME_NOTE = f"no Python {RUNTIME_TARGET} on this machine: the asset runs on the venv's Python ({VENV_PYTHON})"
FUNCTION_NAME = FUNCTION_ARN.rsplit(":", 1)[-1]
_LIVE: set[subprocess.Popen[bytes]] = set()  # killed at exit even after an abnormal teardown


@atexit.register
def _kill_leftovers() -> None:
    for process in list(_LIVE):
        process.kill()


@dataclass(frozen=True)
class FunctionSpec:
    """What the template says about the handler function."""

    handler: str
    environment: dict[str, str]
    timeout_s: float
    memory_mb: int
    runtime: str
    log_format: str
    asset_dir: Path


def synthesized_gate(outdir: Path) -> FunctionSpec:
    """The handler function of the example app's gate stack, as the real CDK CLI synthesizes it."""
    check(run_cli(cdk("synth", "--quiet", "--no-notices", "-o", str(outdir)), cli_env()))
    template = json.loads((outdir / "LookoutVisionModelGate.template.json").read_text())
    [function] = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    props = function["Properties"]
    return FunctionSpec(
        handler=props["Handler"],
        environment={str(k): str(v) for k, v in props["Environment"]["Variables"].items()},
        timeout_s=float(props["Timeout"]),
        memory_mb=int(props["MemorySize"]),
        runtime=props["Runtime"],
        log_format=props.get("LoggingConfig", {}).get("LogFormat", "Text"),
        asset_dir=outdir / function["Metadata"]["aws:asset:path"],
    )


def prepare_task_root(spec: FunctionSpec, dest: Path, appended: Mapping[str, str] | None = None) -> Path:
    """Copy the asset to ``dest``; ``appended`` adds text to its files (injected faults)."""
    shutil.copytree(spec.asset_dir, dest, ignore=shutil.ignore_patterns("__pycache__"))
    for rel, text in (appended or {}).items():
        (dest / rel).write_text((dest / rel).read_text() + text)
    return dest


@dataclass
class Invocation:
    """One asynchronous invocation and what became of it."""

    payload: bytes
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    env: ExecutionEnvironment | None = None
    dispatched_at: float | None = None
    deadline: float | None = None  # epoch seconds
    finished_at: float | None = None
    status: str = "queued"  # queued | running | success | error | timed_out | crashed | init_failed
    result: bytes = b""
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def event(self) -> Any:
        return json.loads(self.payload)

    @property
    def returned_in_time(self) -> bool:
        ended, deadline = self.finished_at, self.deadline
        return self.status == "success" and ended is not None and deadline is not None and ended <= deadline


class ExecutionEnvironment(LoopbackServer):
    """One sandbox: the runtime process, and the Runtime API it polls."""

    def __init__(self, function: LocalLambda) -> None:
        super().__init__()
        self.function, self.state, self.frozen = function, "init", False  # init | ready | busy | done | dead
        self.current: Invocation | None = None
        self.started_at = time.time()
        self.__enter__()
        self.process = subprocess.Popen(
            [str(RUNTIME_PYTHON), "-S", "-m", "awslambdaric", function.spec.handler],
            cwd=function.task_root,
            env=function.process_environment(self.url.removeprefix("http://")),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _LIVE.add(self.process)
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        """Keep what the process logs (awslambdaric writes it to stdout), and report its exit."""
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            self.function.logs.append(raw.decode("utf-8", "replace"))
        self.process.wait()
        _LIVE.discard(self.process)
        self.function.exited(self)

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        path = request.path.rstrip("/")
        answered = re.fullmatch(r"/2018-06-01/runtime/invocation/([^/]+)/(response|error)", path)
        if request.command == "GET" and path == "/2018-06-01/runtime/invocation/next":
            invocation = self.function.take_next(self)
            if invocation is None:  # shutting down: the process is about to be killed
                request.close_connection = True
                reply(request, 500, b"{}")
                return
            headers = {
                "Content-Type": "application/json",  # awslambdaric's client crashes (SIGSEGV) without it
                "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                "Lambda-Runtime-Deadline-Ms": str(int((invocation.deadline or 0) * 1000)),
                "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
            }
            reply(request, 200, invocation.payload, headers)
        elif request.command == "POST" and answered:
            self.function.finish(self, unquote(answered[1]), answered[2], read_body(request))
            reply(request, 202, b"{}")
        else:  # /init/error among them: the process exits next, and its cold start fails its invocation
            read_body(request)
            reply(request, 404, b"{}")

    def freeze(self, frozen: bool) -> None:
        if frozen != self.frozen and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGSTOP if frozen else signal.SIGCONT)
            self.frozen = frozen

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.frozen = False
        self.__exit__()


class LocalLambda(LoopbackServer):
    """The function, run with one execution environment at a time (a cold start when an invocation finds none),
    served as lambda:Invoke on 127.0.0.1 with the loopback Lookout for Vision and Greengrass it calls (every
    component version DEPLOYABLE unless a test scripts it). Every invocation gets the spec's timeout."""

    def __init__(self, spec: FunctionSpec, task_root: Path, extra_environment: Mapping[str, str] = {}) -> None:
        super().__init__()
        self.spec, self.task_root, self.extra_environment = spec, task_root, dict(extra_environment)
        self.lookoutvision, self.greengrass = FakeLookoutVision(), FakeGreengrass(default="DEPLOYABLE")
        # An empty home, no AWS config or credentials files: only the sandbox's variables configure boto3.
        self.home = task_root.parent / f"{task_root.name}-home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.invocations: list[Invocation] = []
        self.environments: list[ExecutionEnvironment] = []
        self.logs: list[str] = []  # what the runtime processes wrote, in the order read
        self.invoke_calls: list[tuple[bytes, int]] = []  # each lambda:Invoke's payload and the status it was answered
        self._queue: deque[Invocation] = deque()
        self._cv = threading.Condition()
        self._timers: list[threading.Timer] = []
        self._closed = False

    def __enter__(self) -> LocalLambda:
        self.lookoutvision.__enter__()
        self.greengrass.__enter__()
        return super().__enter__()  # type: ignore[no-any-return]

    def __exit__(self, *exc: object) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        for timer in self._timers:
            timer.cancel()
        for env in list(self.environments):
            env.close()
        self.lookoutvision.__exit__()
        self.greengrass.__exit__()
        super().__exit__()

    def process_environment(self, runtime_api: str) -> dict[str, str]:
        """The variables Lambda sets in a sandbox, then the function's own (/var/task mapped to the task root)."""
        variables = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "HOME": str(self.home),
            "PYTHONPATH": os.pathsep.join([str(self.task_root), str(RUNTIME_DIR)]),
            "LAMBDA_TASK_ROOT": str(self.task_root),
            "LAMBDA_RUNTIME_DIR": str(RUNTIME_DIR),
            "_HANDLER": self.spec.handler,
            "AWS_LAMBDA_RUNTIME_API": runtime_api,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{self.spec.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.spec.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{FUNCTION_NAME}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d', time.gmtime())}/[$LATEST]{uuid.uuid4().hex}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_FORMAT": self.spec.log_format,
            **OFFLINE_ENV,
            "AWS_SESSION_TOKEN": "test-session-token",  # Lambda hands out temporary credentials
            "AWS_CONFIG_FILE": str(self.home / "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.home / "no-credentials"),
            "AWS_ENDPOINT_URL_LOOKOUTVISION": self.lookoutvision.url,
            "AWS_ENDPOINT_URL_GREENGRASSV2": self.greengrass.url,
            "AWS_ENDPOINT_URL_LAMBDA": self.url,
        }
        own = {k: v.replace("/var/task", str(self.task_root)) for k, v in self.spec.environment.items()}
        return {**variables, **own, **self.extra_environment}

    def log_lines(self) -> list[str]:
        """Every line logged, by any invocation."""
        return [line for record in list(self.logs) for line in re.split(r"[\r\n]+", record) if line.strip()]

    def invoke(self, payload: Any) -> Invocation:
        """Queue an asynchronous invocation."""
        invocation = Invocation(payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8"))
        with self._cv:
            self.invocations.append(invocation)
            self._queue.append(invocation)
            self._cv.notify_all()
            self._cold_start_if_needed()
        return invocation

    def _cold_start_if_needed(self) -> None:
        with self._cv:
            if self._queue and not self._closed and all(e.state == "dead" for e in self.environments):
                self.environments.append(ExecutionEnvironment(self))

    def take_next(self, env: ExecutionEnvironment) -> Invocation | None:
        """Long-poll for the next invocation on behalf of ``env``, frozen while it waits."""
        with self._cv:
            env.state, idle = "ready", not self._queue
        env.freeze(idle)
        with self._cv:
            while not self._queue and env.state != "dead" and not self._closed:
                self._cv.wait(0.2)
            if env.state == "dead" or self._closed:
                return None
            invocation = self._queue.popleft()
            invocation.env, invocation.status, invocation.dispatched_at = env, "running", time.time()
            invocation.deadline = invocation.dispatched_at + self.spec.timeout_s
            env.state, env.current = "busy", invocation
            timer = threading.Timer(self.spec.timeout_s, self._deadline_passed, (env, invocation))
            timer.daemon = True
            self._timers.append(timer)
        env.freeze(False)
        timer.start()
        return invocation

    def finish(self, env: ExecutionEnvironment, request_id: str, kind: str, body: bytes) -> None:
        with self._cv:
            invocation = env.current
            if invocation is None or invocation.request_id != request_id or invocation.status != "running":
                return
            invocation.finished_at, invocation.result = time.time(), body
            invocation.status, env.state = ("success" if kind == "response" else "error"), "done"
        invocation.done.set()

    def _deadline_passed(self, env: ExecutionEnvironment, invocation: Invocation) -> None:
        with self._cv:
            if invocation.status != "running":
                return
            invocation.status, invocation.finished_at, env.state = "timed_out", time.time(), "dead"
        env.close()  # "Task timed out": Lambda kills the environment
        invocation.done.set()

    def exited(self, env: ExecutionEnvironment) -> None:
        with self._cv:
            previous, env.state, ended = env.state, "dead", []
            if env.current is not None and env.current.status == "running":
                env.current.status = "crashed"
                ended.append(env.current)
            if previous == "init" and not self._closed and self._queue:
                # Lambda fails the invocation whose cold start failed, rather than retrying init forever.
                ended.append(self._queue.popleft())
                ended[-1].status = "init_failed"
            for invocation in ended:
                invocation.finished_at = time.time()
                invocation.done.set()
            self._cold_start_if_needed()

    def invocations_for(self, request_id: str) -> list[Invocation]:
        """The invocations whose event carries CloudFormation RequestId ``request_id``, in the order queued."""
        with self._cv:
            return [i for i in self.invocations if i.event.get("RequestId") == request_id]

    def wait_request(self, request_id: str, timeout_s: float) -> list[Invocation]:
        """Wait until the request's whole chain ended (a hand-off queues the next invocation before returning)."""

        def ended() -> bool:
            invocations = self.invocations_for(request_id)
            return bool(invocations) and not any(i.status in ("queued", "running") for i in invocations)

        wait_until(ended, timeout_s, f"the invocations of request {request_id} to end")
        return self.invocations_for(request_id)

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        """lambda:Invoke of this function: a SigV4-signed Event call answers 202 and queues an invocation."""
        payload = read_body(request)
        match = re.fullmatch(r"/2015-03-31/functions/([^/?]+)/invocations(\?.*)?", request.path)
        accepted = (
            match is not None
            and unquote(match[1]) in (FUNCTION_NAME, FUNCTION_ARN)
            and request.headers.get("X-Amz-Invocation-Type") == "Event"
            and str(request.headers.get("Authorization", "")).startswith("AWS4-HMAC-SHA256 ")
        )
        self.invoke_calls.append((payload, 202 if accepted else 400))
        if accepted:
            self.invoke(payload)
        reply(request, 202 if accepted else 400)
