"""A local AWS Lambda for the asset `cdk synth` wrote: each execution environment is a process
``python -S -m awslambdaric <Handler>`` in a copy of the asset (playing /var/task) with awslambdaric and the newest
boto3 (playing /var/runtime, on Python 3.13 where the machine has it), served a Runtime API on 127.0.0.1. As in Lambda,
an idle environment is frozen (SIGSTOP), one past its deadline is killed, and a loopback lambda:Invoke queues Event
calls, so that a handed-off wait continues end to end."""

from __future__ import annotations

import atexit
import contextlib
import itertools
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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from e2e_support import ROOT, VENV_PYTHON, cdk, check, cli_env, run_cli
from support import (
    AWS_OFFLINE,
    FUNCTION_ARN,
    FakeGreengrass,
    FakeLookoutVision,
    HarnessError,
    LoopbackServer,
    read_body,
    reply,
    wait_until,
)

from cdk_lookoutvision_packaging_handler.contract import RESOURCE_TYPE

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
    timeout_s: int
    memory_mb: int
    runtime: str
    log_format: str
    asset_dir: Path

    @classmethod
    def from_template(cls, template: Mapping[str, Any], assembly_dir: Path) -> FunctionSpec:
        [function] = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
        props = function["Properties"]
        return cls(
            handler=props["Handler"],
            environment={str(k): str(v) for k, v in props.get("Environment", {}).get("Variables", {}).items()},
            timeout_s=int(props.get("Timeout", 3)),
            memory_mb=int(props.get("MemorySize", 128)),
            runtime=str(props.get("Runtime", "")),
            log_format=str(props.get("LoggingConfig", {}).get("LogFormat", "Text")),
            asset_dir=assembly_dir / function["Metadata"]["aws:asset:path"],
        )


@dataclass(frozen=True)
class SynthesizedApp:
    function: FunctionSpec
    properties: dict[str, Any]  # the one custom resource's, as the template holds them


def synthesized_gate(outdir: Path, *context: str) -> SynthesizedApp:
    """The example app's gate stack as the real CDK CLI synthesizes it, with ``context`` pairs (``startJob=true``)."""
    pairs = [arg for pair in context for arg in ("-c", pair)]
    check(run_cli(cdk("synth", "--quiet", "--no-notices", "-o", str(outdir), *pairs), cli_env()))
    template = json.loads((outdir / "LookoutVisionModelGate.template.json").read_text())
    [props] = [r["Properties"] for r in template["Resources"].values() if r["Type"] == RESOURCE_TYPE]
    return SynthesizedApp(FunctionSpec.from_template(template, outdir), props)


def prepare_task_root(spec: FunctionSpec, dest: Path, appended: Mapping[str, str] | None = None) -> Path:
    """Copy the asset to ``dest``; ``appended`` adds text to its files (injected faults)."""
    shutil.copytree(spec.asset_dir, dest, ignore=shutil.ignore_patterns("__pycache__"))
    for rel, text in (appended or {}).items():
        (dest / rel).write_text((dest / rel).read_text() + text)
    return dest


def cfn_properties(props: Mapping[str, Any]) -> dict[str, Any]:
    """ResourceProperties as CloudFormation sends them: ServiceToken resolved, every scalar a string."""

    def stringify(value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 1 and next(iter(value)).startswith(("Fn::", "Ref")):
                raise HarnessError(f"cannot resolve the intrinsic {value} in a test event")
            return {k: stringify(v) for k, v in value.items()}
        if isinstance(value, list):
            return [stringify(v) for v in value]
        return json.dumps(value) if isinstance(value, bool | int | float) else value

    return {**stringify({k: v for k, v in props.items() if k != "ServiceToken"}), "ServiceToken": FUNCTION_ARN}


def request_id_of(payload: bytes) -> str | None:
    """The CloudFormation RequestId an invocation's payload carries, if any."""
    with contextlib.suppress(ValueError, AttributeError):
        request_id = json.loads(payload).get("RequestId")
        return request_id if isinstance(request_id, str) else None
    return None


@dataclass
class Invocation:
    request_id: str
    payload: bytes
    timeout_s: float
    env_id: int | None = None
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


class RuntimeAPI(LoopbackServer):
    """The Runtime API of one execution environment."""

    methods = ("GET", "POST")
    poll_s = 0.2

    def __init__(self, env: ExecutionEnvironment) -> None:
        super().__init__()
        self.env = env

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        function, path = self.env.function, request.path.rstrip("/")
        answered = re.fullmatch(r"/2018-06-01/runtime/invocation/([^/]+)/(response|error)", path)
        if request.command == "GET" and path == "/2018-06-01/runtime/invocation/next":
            invocation = function.take_next(self.env)
            if invocation is None:  # shutting down: the process is about to be killed
                request.close_connection = True
                reply(request, 500, b'{"errorMessage":"shutting down","errorType":"ShuttingDown"}')
                return
            headers = {
                "Content-Type": "application/json",  # awslambdaric's client crashes (SIGSEGV) without it
                "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                "Lambda-Runtime-Deadline-Ms": str(int((invocation.deadline or 0) * 1000)),
                "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
            }
            reply(request, 200, invocation.payload, headers)
        elif request.command == "POST" and answered:
            accepted = function.finish(self.env, unquote(answered[1]), answered[2], read_body(request))
            reply(request, 202 if accepted else 400, b"{}")
        else:  # /init/error among them: the process exits next, and its cold start fails its invocation
            read_body(request)
            reply(request, 404, b"{}")


class ExecutionEnvironment:
    """One sandbox: a Runtime API endpoint and the runtime process it serves."""

    def __init__(self, function: LambdaFunction, env_id: int) -> None:
        self.function, self.env_id = function, env_id
        self.state = "init"  # init | ready | busy | done | dead
        self.current: Invocation | None = None
        self.stopping = self.frozen = False
        self.started_at = time.time()
        self.api = RuntimeAPI(self).__enter__()
        log_read, log_write = os.pipe()
        env = function.process_environment(self.api.url.removeprefix("http://"))
        try:
            self.process = subprocess.Popen(
                [str(RUNTIME_PYTHON), "-S", "-m", "awslambdaric", function.spec.handler],
                cwd=function.task_root,
                env={**env, "_LAMBDA_TELEMETRY_LOG_FD": str(log_write)},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(log_write,),
                start_new_session=True,
            )
        finally:
            os.close(log_write)
        _LIVE.add(self.process)
        for target, args in ((self._read_frames, (log_read,)), (self._read_stdout, ()), (self._watch_exit, ())):
            threading.Thread(target=target, args=args, daemon=True).start()

    def _read_frames(self, fd: int) -> None:
        """The telemetry frames: a 16-byte header whose bytes 4-8 are the length, then the record."""
        with os.fdopen(fd, "rb", buffering=0) as pipe:
            buffer = b""
            while chunk := pipe.read(65536):
                buffer += chunk
                while len(buffer) >= 16 and len(buffer) >= 16 + (length := int.from_bytes(buffer[4:8], "big")):
                    self.function.add_log(buffer[16 : 16 + length].decode("utf-8", "replace"))
                    buffer = buffer[16 + length :]

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            self.function.add_log(raw.decode("utf-8", "replace"))

    def _watch_exit(self) -> None:
        self.process.wait()
        _LIVE.discard(self.process)
        self.function.environment_exited(self)

    def freeze(self, frozen: bool) -> None:
        if frozen != self.frozen and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGSTOP if frozen else signal.SIGCONT)
            self.frozen = frozen

    def close(self) -> None:
        self.stopping = True
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.frozen = False
        self.api.__exit__()


class LambdaFunction:
    """A Lambda function with on-demand execution environments, an event queue and Lambda's deadlines.
    ``timeouts_s`` gives every invocation of a CloudFormation RequestId its own; the others get the template's."""

    def __init__(
        self,
        spec: FunctionSpec,
        task_root: Path,
        *,
        endpoints: Mapping[str, str],
        max_concurrency: int = 10,
        extra_environment: Mapping[str, str] | None = None,
    ) -> None:
        self.spec, self.task_root, self.endpoints = spec, task_root, dict(endpoints)
        self.max_concurrency, self.extra_environment = max_concurrency, dict(extra_environment or {})
        self.timeouts_s: dict[str, float] = {}
        # An empty home, no AWS config or credentials files: only the sandbox's variables configure boto3.
        self.home = task_root.parent / f"{task_root.name}-home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.invocations: list[Invocation] = []
        self.environments: list[ExecutionEnvironment] = []
        self.logs: list[str] = []  # the records, in the order read
        self._queue: deque[Invocation] = deque()
        self._cv = threading.Condition()
        self._ids = itertools.count(1)
        self._timers: list[threading.Timer] = []
        self._closed = False

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
            **AWS_OFFLINE,
            "AWS_SESSION_TOKEN": "test-session-token",  # Lambda hands out temporary credentials
            "AWS_CONFIG_FILE": str(self.home / "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.home / "no-credentials"),
            **{f"AWS_ENDPOINT_URL_{service.upper()}": url for service, url in self.endpoints.items()},
        }
        own = {k: v.replace("/var/task", str(self.task_root)) for k, v in self.spec.environment.items()}
        return {**variables, **own, **self.extra_environment}

    def add_log(self, text: str) -> None:
        with self._cv:
            self.logs.append(text)

    def log_lines(self) -> list[str]:
        """Every line logged, by any invocation."""
        with self._cv:
            records = list(self.logs)
        return [line for record in records for line in re.split(r"[\r\n]+", record) if line.strip()]

    def invoke(self, payload: Any) -> Invocation:
        """Queue an asynchronous invocation."""
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
        timeout_s = self.timeouts_s.get(request_id_of(raw) or "", float(self.spec.timeout_s))
        invocation = Invocation(str(uuid.uuid4()), raw, timeout_s)
        with self._cv:
            if self._closed:
                raise HarnessError("the function is closed")
            self.invocations.append(invocation)
            self._queue.append(invocation)
            self._cv.notify_all()
        self._ensure_capacity()
        return invocation

    def _ensure_capacity(self) -> None:
        with self._cv:
            live = [e for e in self.environments if e.state != "dead"]
            available = sum(1 for e in live if e.state in ("init", "ready", "done"))
            wanted = 0 if self._closed else min(len(self._queue) - available, self.max_concurrency - len(live))
        for _ in range(wanted):
            self._spawn()

    def _spawn(self) -> None:
        env = ExecutionEnvironment(self, next(self._ids))
        with self._cv:
            self.environments.append(env)

    def prewarm(self, count: int, timeout_s: float = 120) -> None:
        """Start ``count`` environments and wait until each has finished init."""
        for _ in range(count):
            self._spawn()

        def states() -> list[str]:
            return [e.state for e in self.environments]

        wait_until(lambda: states().count("ready") >= count or "dead" in states(), timeout_s, f"{count} inits")
        if "dead" in states():
            raise HarnessError(f"environments died during init:\n{self.log_lines()[-40:]}")

    def take_next(self, env: ExecutionEnvironment) -> Invocation | None:
        """Long-poll for the next invocation on behalf of ``env``, frozen while it waits."""
        with self._cv:
            env.state = "ready"
            self._cv.notify_all()
            idle = not self._queue
        env.freeze(idle)
        with self._cv:
            while not self._queue and not env.stopping and not self._closed:
                self._cv.wait(0.2)
            if env.stopping or self._closed:
                return None
            invocation = self._queue.popleft()
            invocation.env_id, invocation.dispatched_at = env.env_id, time.time()
            invocation.deadline = invocation.dispatched_at + invocation.timeout_s
            invocation.status, env.state, env.current = "running", "busy", invocation
            timer = threading.Timer(invocation.timeout_s, self._deadline_passed, (env, invocation))
            timer.daemon = True
            self._timers.append(timer)
        env.freeze(False)
        timer.start()
        return invocation

    def finish(self, env: ExecutionEnvironment, request_id: str, kind: str, body: bytes) -> bool:
        with self._cv:
            invocation = env.current
            if invocation is None or invocation.request_id != request_id or invocation.status != "running":
                return False
            invocation.finished_at, invocation.result = time.time(), body
            invocation.status, env.state = ("success" if kind == "response" else "error"), "done"
        invocation.done.set()
        return True

    def _deadline_passed(self, env: ExecutionEnvironment, invocation: Invocation) -> None:
        with self._cv:
            if invocation.status != "running":
                return
            invocation.status, invocation.finished_at, env.state = "timed_out", time.time(), "dead"
        env.close()  # "Task timed out": Lambda kills the environment
        invocation.done.set()
        self._ensure_capacity()

    def environment_exited(self, env: ExecutionEnvironment) -> None:
        with self._cv:
            previous, env.state, ended = env.state, "dead", []
            if env.current is not None and env.current.status == "running":
                env.current.status = "crashed"
                ended.append(env.current)
            if previous == "init" and not env.stopping and self._queue:
                # Lambda fails the invocation whose cold start failed, rather than retrying init forever.
                ended.append(self._queue.popleft())
                ended[-1].status = "init_failed"
            for invocation in ended:
                invocation.finished_at = time.time()
                invocation.done.set()
        if not env.stopping:
            self._ensure_capacity()

    def invocations_for(self, request_id: str) -> list[Invocation]:
        """The invocations whose event carries CloudFormation RequestId ``request_id``, in the order queued."""
        with self._cv:
            return [i for i in self.invocations if request_id_of(i.payload) == request_id]

    def wait_request(self, request_id: str, timeout_s: float) -> list[Invocation]:
        """Wait until the request's whole chain ended (a hand-off queues the next invocation before returning)."""

        def ended() -> bool:
            invocations = self.invocations_for(request_id)
            return bool(invocations) and not any(i.status in ("queued", "running") for i in invocations)

        wait_until(ended, timeout_s, f"the invocations of request {request_id} to end")
        return self.invocations_for(request_id)

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        for timer in list(self._timers):
            timer.cancel()
        threads = [threading.Thread(target=env.close, daemon=True) for env in list(self.environments)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=15)
        if alive := [e.process.pid for e in self.environments if e.process.poll() is None]:
            raise HarnessError(f"could not stop runtime processes {alive}")


@dataclass
class InvokeCall:
    payload: bytes
    status: int


class LambdaInvokeAPI(LoopbackServer):
    """lambda:Invoke of the one function it fronts: a SigV4-signed Event call answers 202 and queues an invocation."""

    methods = ("POST",)

    def __init__(self, function: LambdaFunction) -> None:
        super().__init__()
        self.function = function
        self.calls: list[InvokeCall] = []

    def event_calls(self, request_id: str) -> list[InvokeCall]:
        return [c for c in list(self.calls) if request_id_of(c.payload) == request_id]

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        payload = read_body(request)
        match = re.fullmatch(r"/2015-03-31/functions/([^/?]+)/invocations(\?.*)?", request.path)
        accepted = (
            match is not None
            and unquote(match[1]) in (FUNCTION_NAME, FUNCTION_ARN)
            and request.headers.get("X-Amz-Invocation-Type") == "Event"
            and str(request.headers.get("Authorization", "")).startswith("AWS4-HMAC-SHA256 ")
        )
        self.calls.append(InvokeCall(payload, 202 if accepted else 400))
        if not accepted:
            body = json.dumps({"Type": "User", "message": f"the stand-in takes signed Event calls of {FUNCTION_ARN}"})
            reply(request, 400, body.encode(), {"x-amzn-ErrorType": "InvalidParameterValueException"})
            return
        self.function.invoke(payload)
        reply(request, 202, b"", {"x-amzn-RequestId": str(uuid.uuid4())})


class LambdaHarness:
    """The function, its lambda:Invoke, Lookout for Vision and Greengrass (every component version DEPLOYABLE unless
    a test scripts it), started and stopped together."""

    def __init__(
        self,
        spec: FunctionSpec,
        work_dir: Path,
        *,
        lookoutvision: FakeLookoutVision | None = None,
        greengrass: FakeGreengrass | None = None,
        task_root: Path | None = None,
        **function_options: Any,
    ) -> None:
        work_dir.mkdir(parents=True, exist_ok=True)
        self.lookoutvision = lookoutvision or FakeLookoutVision()
        self.greengrass = greengrass or FakeGreengrass(default="DEPLOYABLE")
        self.servers: list[LoopbackServer] = [self.lookoutvision, self.greengrass]
        endpoints = {"lookoutvision": self.lookoutvision.url, "greengrassv2": self.greengrass.url}
        task_root = task_root or prepare_task_root(spec, work_dir / "task")
        self.function = LambdaFunction(spec, task_root, endpoints=endpoints, **function_options)
        self.invoke_api = LambdaInvokeAPI(self.function)
        self.function.endpoints["lambda"] = self.invoke_api.url
        self.servers.append(self.invoke_api)

    def __enter__(self) -> LambdaHarness:
        for server in self.servers:
            server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.function.close()
        finally:
            for server in self.servers:
                server.__exit__()


def leaked_lines(lines: Iterable[str], response_urls: Iterable[str]) -> list[str]:
    """The lines that carry a ResponseURL, its path, its query or its signature."""
    needles = {"X-Amz-Signature", "X-Amz-Credential"}
    for url in response_urls:
        parts = urlsplit(url)
        signature = [p.split("=", 1)[1] for p in parts.query.split("&") if p.startswith("X-Amz-Signature=")]
        needles |= {url, parts.path, unquote(parts.path), parts.query, *signature}
    return [line for line in lines if any(needle and needle in line for needle in needles)]


PROBE = r"""
import json, os, sys
import awslambdaric, botocore, botocore.session
os.environ.pop("AWS_DATA_PATH", None)
print(json.dumps({"python": sys.version.split()[0], "executable": sys.executable, "sys_path": sys.path,
    "awslambdaric": awslambdaric.__file__, "botocore": botocore.__version__, "botocore_file": botocore.__file__,
    "bare_has_lookoutvision": "lookoutvision" in botocore.session.Session().get_available_services()}))
"""


def probe_runtime(function: LambdaFunction) -> dict[str, Any]:
    """Run PROBE with exactly an execution environment's interpreter, flags, cwd and environment."""
    result = subprocess.run(
        [str(RUNTIME_PYTHON), "-S", "-c", PROBE],
        cwd=function.task_root,
        env=function.process_environment("127.0.0.1:9"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        raise HarnessError(f"the runtime probe failed:\n{result.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report
