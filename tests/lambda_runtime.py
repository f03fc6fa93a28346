"""A local stand-in for AWS Lambda that runs the asset `cdk synth` produced under AWS's runtime interface client.

- **Code and configuration** come from the synthesized template: the ``aws:asset:path`` folder is copied to a
  directory that plays ``/var/task``; Handler, Environment, Timeout, MemorySize, Runtime and LogFormat configure it
  (values under ``/var/task`` are rewritten to the copy, the one difference from a sandbox).
- **The runtime** is ``awslambdaric`` and the newest boto3 on Python 3.13 from ``.deps/runtime-py313`` (playing
  ``/var/runtime``; without Python 3.13, the venv's Python on ``.deps/boto3-newest``, and RUNTIME_NOTE says so). Each
  execution environment is one process, ``python -S -m awslambdaric <Handler>``, in the task root, with
  ``PYTHONPATH=<task root>:<runtime dir>`` and an environment built from scratch; ``-S`` keeps the development
  site-packages out. :func:`probe_runtime` proves that environment.
- **The Runtime API** is served per environment on 127.0.0.1 (``/next`` long-polls and carries the request id and
  deadline). As in Lambda, an idle environment is frozen (SIGSTOP) and thawed for its next invocation; one that has
  not answered by its deadline is killed ("Task timed out"), and the next invocation gets a new process. Logs arrive
  framed on ``_LAMBDA_TELEMETRY_LOG_FD``, and from stdout and stderr.
- **lambda:Invoke** (:class:`LambdaInvokeAPI`, reached through ``AWS_ENDPOINT_URL_LAMBDA``) answers a signed ``Event``
  call with 202 and queues it as a new invocation, so a handed-off wait continues end to end. Lookout for Vision and
  Greengrass are ``support``'s loopback fakes.

Every wait here is bounded, and :meth:`LambdaFunction.close` kills every process it started.
"""

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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from support import (
    AWS_OFFLINE,
    FUNCTION_ARN,
    FakeGreengrass,
    FakeLookoutVision,
    HarnessError,
    LoopbackServer,
    offline_env,
    read_body,
    reply,
    wait_until,
)

from cdk_lookoutvision_packaging_handler.contract import RESOURCE_TYPE

ROOT = Path(__file__).resolve().parents[1]
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
NODE_BIN = ROOT / "node_modules" / ".bin"
# The function declares python3.13 (the construct's RUNTIME); make setup puts awslambdaric and the newest boto3 for
# python3.13 (pyenv) into .deps/runtime-py313 and names the interpreter in its .python file.
RUNTIME_TARGET = "3.13"
_RUNTIME313 = ROOT / ".deps" / "runtime-py313"
_NAMED = (_RUNTIME313 / ".python").read_text().strip() if (_RUNTIME313 / ".python").is_file() else ""
if _NAMED and Path(_NAMED).is_file() and (_RUNTIME313 / "awslambdaric").is_dir():
    RUNTIME_PYTHON, RUNTIME_DIR, RUNTIME_NOTE = Path(_NAMED), _RUNTIME313, ""
else:
    RUNTIME_PYTHON, RUNTIME_DIR = VENV_PYTHON, ROOT / ".deps" / "boto3-newest"
    RUNTIME_NOTE = f"no Python {RUNTIME_TARGET} on this machine: the asset runs on the venv's Python ({VENV_PYTHON})"
GATE_STACK = "LookoutVisionModelGate"
LAMBDA_TASK_ROOT = "/var/task"

# Every runtime process started and not yet reaped, killed at interpreter exit even after an abnormal teardown.
_LIVE_PROCESSES: set[subprocess.Popen[bytes]] = set()


@atexit.register
def _kill_leftovers() -> None:
    for process in list(_LIVE_PROCESSES):
        if process.poll() is None:
            process.kill()


def say(config: Any, line: str) -> None:
    """Write ``line`` to the run's output now, past pytest's capture."""
    reporter = config.pluginmanager.getplugin("terminalreporter")
    capture = config.pluginmanager.getplugin("capturemanager")
    if reporter is not None:
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            reporter.write_line(line)


# --- the synthesized function --------------------------------------------------------------------------------------


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
    template: dict[str, Any]
    function: FunctionSpec

    def resource_properties(self) -> dict[str, Any]:
        """The one custom resource's properties, as the template holds them."""
        [props] = [r["Properties"] for r in self.template["Resources"].values() if r["Type"] == RESOURCE_TYPE]
        return dict(props)


def synthesized_gate(outdir: Path, *context: str) -> SynthesizedApp:
    """The gate stack as the real CDK CLI synthesizes the app (cdk.json, then ``context`` pairs such as
    ``startJob=true``) into ``outdir``."""
    env = offline_env(PATH=os.pathsep.join([str(NODE_BIN), str(VENV_PYTHON.parent), os.environ.get("PATH", "")]))
    for var in ("CDK_OUTDIR", "CDK_CONTEXT_JSON", "PYTHONPATH"):
        env.pop(var, None)
    command = [str(NODE_BIN / "cdk"), "synth", "--quiet", "--no-notices", "-o", str(outdir)]
    command += [arg for pair in context for arg in ("-c", pair)]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise HarnessError(f"cdk synth failed ({result.returncode}):\n{result.stderr[-4000:]}")
    template = json.loads((outdir / f"{GATE_STACK}.template.json").read_text())
    return SynthesizedApp(template, FunctionSpec.from_template(template, outdir))


def prepare_task_root(spec: FunctionSpec, dest: Path, appended: Mapping[str, str] | None = None) -> Path:
    """Copy the asset to ``dest``, which plays /var/task; ``appended`` adds text to its files (injected faults)."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(spec.asset_dir, dest, ignore=shutil.ignore_patterns("__pycache__"))
    for rel, text in (appended or {}).items():
        (dest / rel).write_text((dest / rel).read_text() + text)
    return dest


def cfn_properties(props: Mapping[str, Any], service_token: str = FUNCTION_ARN) -> dict[str, Any]:
    """ResourceProperties as CloudFormation sends them: ServiceToken resolved, every scalar turned into a string."""

    def stringify(value: Any) -> Any:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        if isinstance(value, list):
            return [stringify(v) for v in value]
        if isinstance(value, dict):
            if len(value) == 1 and next(iter(value)).startswith(("Fn::", "Ref")):
                raise HarnessError(f"cannot resolve the intrinsic {value} in a test event")
            return {k: stringify(v) for k, v in value.items()}
        return value

    return {"ServiceToken": service_token, **{k: stringify(v) for k, v in props.items() if k != "ServiceToken"}}


# --- the Lambda service --------------------------------------------------------------------------------------------


@dataclass
class Invocation:
    """One invocation of the function, as Lambda tracks it."""

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


def request_id_of(payload: bytes) -> str | None:
    """The CloudFormation RequestId an invocation's payload carries, if it is an event with one."""
    try:
        event = json.loads(payload)
    except ValueError:
        return None
    request_id = event.get("RequestId") if isinstance(event, dict) else None
    return request_id if isinstance(request_id, str) else None


class RuntimeAPI(LoopbackServer):
    """The Runtime API of one execution environment."""

    methods = ("GET", "POST")
    poll_s = 0.2  # a hundred of these at once in the load test

    def __init__(self, env: ExecutionEnvironment) -> None:
        super().__init__()
        self.env = env

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        path, env = request.path.rstrip("/"), self.env
        match = re.fullmatch(r"/2018-06-01/runtime/invocation/([^/]+)/(response|error)", path)
        if request.command == "GET" and path == "/2018-06-01/runtime/invocation/next":
            invocation = env.function.take_next(env)
            if invocation is None:  # shutting down: the process is about to be killed
                request.close_connection = True
                reply(request, 500, b'{"errorMessage":"shutting down","errorType":"ShuttingDown"}')
            else:
                reply(request, 200, invocation.payload, env.function.invocation_headers(invocation))
        elif request.command == "POST" and match:
            accepted = env.function.finish(env, unquote(match[1]), match[2], read_body(request))
            reply(request, 202 if accepted else 400, b"{}")
        else:  # /init/error among them: the process exits next, and the cold start fails its invocation
            read_body(request)
            reply(request, 404, b"{}")


class ExecutionEnvironment:
    """One sandbox: a Runtime API endpoint and the runtime process it serves."""

    def __init__(self, function: LambdaFunction, env_id: int) -> None:
        self.function = function
        self.env_id = env_id
        self.state = "init"  # init | ready | busy | done | dead
        self.current: Invocation | None = None
        self.stopping = False
        self.frozen = False
        self.started_at = time.time()
        self.api = RuntimeAPI(self).__enter__()
        log_read, log_write = os.pipe()
        env = function.process_environment(self.api.url.removeprefix("http://"))
        env["_LAMBDA_TELEMETRY_LOG_FD"] = str(log_write)
        try:
            self.process = subprocess.Popen(
                [str(RUNTIME_PYTHON), "-S", "-m", "awslambdaric", function.spec.handler],
                cwd=function.task_root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(log_write,),
                start_new_session=True,
            )
        finally:
            os.close(log_write)
        _LIVE_PROCESSES.add(self.process)
        for target, args in ((self._read_frames, (log_read,)), (self._read_stdout, ()), (self._watch_exit, ())):
            threading.Thread(target=target, args=args, daemon=True).start()

    def _log(self, text: str) -> None:
        # self.current stays the last invocation until the next arrives, so its late records are still its own.
        current = self.current
        self.function.add_log(current.request_id if current else "", text)

    def _read_frames(self, fd: int) -> None:
        """The telemetry frames: a 16-byte header whose bytes 4-8 are the length, then the record."""
        with os.fdopen(fd, "rb", buffering=0) as pipe:
            buffer = b""
            while chunk := pipe.read(65536):
                buffer += chunk
                while len(buffer) >= 16 and len(buffer) >= 16 + (length := int.from_bytes(buffer[4:8], "big")):
                    self._log(buffer[16 : 16 + length].decode("utf-8", "replace"))
                    buffer = buffer[16 + length :]

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            self._log(raw.decode("utf-8", "replace"))

    def _watch_exit(self) -> None:
        code = self.process.wait()
        _LIVE_PROCESSES.discard(self.process)
        self.function.environment_exited(self, code)

    def _signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, sig)

    def freeze(self) -> None:
        if not self.frozen and self.process.poll() is None:
            self._signal(signal.SIGSTOP)
            self.frozen = True

    def thaw(self) -> None:
        if self.frozen:
            self._signal(signal.SIGCONT)
            self.frozen = False

    def kill(self) -> None:
        self.stopping = True
        if self.process.poll() is None:
            self._signal(signal.SIGKILL)
            self.frozen = False
            self.process.wait(timeout=10)

    def close(self) -> None:
        self.kill()
        self.api.__exit__()
        if self.process.stdout is not None:
            self.process.stdout.close()


class LambdaFunction:
    """A Lambda function with on-demand execution environments, an async event queue and Lambda's deadline rules.
    ``timeouts_s`` gives every invocation whose event carries a CloudFormation RequestId (the first and each
    continuation) its own deadline; the others get the template's Timeout."""

    def __init__(
        self,
        spec: FunctionSpec,
        task_root: Path,
        *,
        endpoints: Mapping[str, str],
        max_concurrency: int = 10,
        extra_environment: Mapping[str, str] | None = None,
    ) -> None:
        self.spec, self.task_root = spec, task_root
        self.function_arn = FUNCTION_ARN
        self.function_name = FUNCTION_ARN.rsplit(":", 1)[-1]
        self.endpoints = dict(endpoints)
        self.max_concurrency = max_concurrency
        self.extra_environment = dict(extra_environment or {})
        self.timeouts_s: dict[str, float] = {}
        # An empty home with no AWS config or credentials files: only the sandbox's variables configure boto3.
        self.home = task_root.parent / f"{task_root.name}-home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.invocations: list[Invocation] = []
        self.environments: list[ExecutionEnvironment] = []
        self.logs: list[tuple[str, str]] = []  # (request id, record), in the order read
        self._queue: deque[Invocation] = deque()
        self._cv = threading.Condition()
        self._ids = itertools.count(1)
        self._timers: list[threading.Timer] = []
        self._closed = False

    def process_environment(self, runtime_api: str) -> dict[str, str]:
        """The variables Lambda sets in a sandbox, then the function's own (mapped to the local task root)."""
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
            "AWS_LAMBDA_FUNCTION_NAME": self.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.spec.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.function_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d', time.gmtime())}/[$LATEST]{uuid.uuid4().hex}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_FORMAT": self.spec.log_format,
            **AWS_OFFLINE,
            "AWS_SESSION_TOKEN": "test-session-token",  # Lambda hands out temporary credentials
            "AWS_CONFIG_FILE": str(self.home / "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.home / "no-credentials"),
        }
        for service, url in self.endpoints.items():
            variables[f"AWS_ENDPOINT_URL_{service.upper()}"] = url
        task_root = str(self.task_root)
        own = {k: v.replace(LAMBDA_TASK_ROOT, task_root) for k, v in self.spec.environment.items()}
        return {**variables, **own, **self.extra_environment}

    def invocation_headers(self, invocation: Invocation) -> dict[str, str]:
        assert invocation.deadline is not None
        return {
            "Content-Type": "application/json",
            "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
            "Lambda-Runtime-Deadline-Ms": str(int(invocation.deadline * 1000)),
            "Lambda-Runtime-Invoked-Function-Arn": self.function_arn,
        }

    # -- logs --

    def add_log(self, request_id: str, text: str) -> None:
        with self._cv:
            self.logs.append((request_id, text))

    def log_lines(self, request_ids: Iterable[str] | None = None) -> list[str]:
        """Every line logged (by the invocations ``request_ids`` only, if given), split at newlines."""
        wanted = None if request_ids is None else set(request_ids)
        with self._cv:
            records = [text for rid, text in self.logs if wanted is None or rid in wanted]
        return [line for record in records for line in re.split(r"[\r\n]+", record) if line.strip()]

    # -- invoking --

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
            if self._closed:
                return
            live = [e for e in self.environments if e.state != "dead"]
            available = sum(1 for e in live if e.state in ("init", "ready", "done"))
            wanted = min(len(self._queue) - available, self.max_concurrency - len(live))
        for _ in range(max(0, wanted)):
            self._spawn()

    def _spawn(self) -> ExecutionEnvironment:
        env = ExecutionEnvironment(self, next(self._ids))
        with self._cv:
            self.environments.append(env)
        return env

    def prewarm(self, count: int, timeout_s: float = 120) -> float:
        """Start ``count`` environments and wait until each has finished init; return the seconds it took."""
        started = time.monotonic()
        for _ in range(count):
            self._spawn()

        def states() -> list[str]:
            return [e.state for e in self.environments]

        wait_until(lambda: states().count("ready") >= count or "dead" in states(), timeout_s, f"{count} inits")
        if "dead" in states():
            raise HarnessError(f"environments died during init:\n{self.log_lines()[-40:]}")
        return time.monotonic() - started

    def take_next(self, env: ExecutionEnvironment) -> Invocation | None:
        """Long-poll for the next invocation on behalf of ``env`` (its runtime called /next)."""
        with self._cv:
            env.state = "ready"
            self._cv.notify_all()
            empty = not self._queue
        if empty:
            env.freeze()
        with self._cv:
            while not self._queue and not env.stopping and not self._closed:
                self._cv.wait(0.2)
            if env.stopping or self._closed:
                return None
            invocation = self._queue.popleft()
            invocation.env_id, invocation.dispatched_at = env.env_id, time.time()
            invocation.deadline = invocation.dispatched_at + invocation.timeout_s
            invocation.status, env.state, env.current = "running", "busy", invocation
        env.thaw()
        timer = threading.Timer(max(0.0, invocation.deadline - time.time()), self._deadline_passed, (env, invocation))
        timer.daemon = True
        with self._cv:
            self._timers.append(timer)
        timer.start()
        return invocation

    def finish(self, env: ExecutionEnvironment, request_id: str, kind: str, body: bytes) -> bool:
        with self._cv:
            invocation = env.current
            if invocation is None or invocation.request_id != request_id or invocation.status != "running":
                return False
            invocation.finished_at, invocation.result = time.time(), body
            invocation.status = "success" if kind == "response" else "error"
            env.state = "done"
            self._cv.notify_all()
        invocation.done.set()
        return True

    def _deadline_passed(self, env: ExecutionEnvironment, invocation: Invocation) -> None:
        with self._cv:
            if invocation.status != "running":
                return
            invocation.status, invocation.finished_at, env.state = "timed_out", time.time(), "dead"
            self._cv.notify_all()
        env.kill()
        invocation.done.set()
        self._ensure_capacity()

    def environment_exited(self, env: ExecutionEnvironment, code: int) -> None:
        ended: list[Invocation] = []
        with self._cv:
            previous, env.state, invocation = env.state, "dead", env.current
            if invocation is not None and invocation.status == "running":
                invocation.status = "crashed"
                ended.append(invocation)
            if previous == "init" and not env.stopping and self._queue:
                # Lambda fails the invocation whose cold start failed, rather than retrying init forever.
                invocation = self._queue.popleft()
                invocation.status = "init_failed"
                ended.append(invocation)
            for invocation in ended:
                invocation.finished_at = time.time()
            self._cv.notify_all()
        for invocation in ended:
            invocation.done.set()
        if not env.stopping:
            self._ensure_capacity()

    # -- waiting and closing --

    def invocations_for(self, request_id: str) -> list[Invocation]:
        """The invocations whose event carries CloudFormation RequestId ``request_id``, in the order queued."""
        with self._cv:
            return [i for i in self.invocations if request_id_of(i.payload) == request_id]

    def wait_request(self, request_id: str, timeout_s: float) -> list[Invocation]:
        """Wait until every invocation for ``request_id`` has ended; a hand-off queues the next one before the
        current one returns, so this is the end of the request's whole chain."""

        def ended() -> bool:
            invocations = self.invocations_for(request_id)
            return bool(invocations) and not any(i.status in ("queued", "running") for i in invocations)

        wait_until(ended, timeout_s, f"the invocations of request {request_id} to end")
        return self.invocations_for(request_id)

    def wait_quiet(self, timeout_s: float) -> None:
        def quiet() -> bool:
            return not any(i.status in ("queued", "running") for i in list(self.invocations))

        wait_until(quiet, timeout_s, "the function to finish every invocation")

    def close(self) -> None:
        with self._cv:
            self._closed = True
            environments, timers = list(self.environments), list(self._timers)
            self._cv.notify_all()
        for timer in timers:
            timer.cancel()
        threads = [threading.Thread(target=env.close, daemon=True) for env in environments]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=15)
        alive = [e.process.pid for e in environments if e.process.poll() is None]
        if alive:
            raise HarnessError(f"could not stop runtime processes {alive}")


# --- lambda:Invoke on loopback -------------------------------------------------------------------------------------


@dataclass
class InvokeCall:
    at: float
    payload: bytes
    status: int


class LambdaInvokeAPI(LoopbackServer):
    """``POST /2015-03-31/functions/{FunctionName}/invocations`` with ``X-Amz-Invocation-Type: Event``, for the one
    function it fronts: a SigV4-signed call answers 202 and queues the payload as an invocation."""

    methods = ("POST",)

    def __init__(self) -> None:
        super().__init__()
        self.function: LambdaFunction | None = None
        self.calls: list[InvokeCall] = []
        self._lock = threading.Lock()

    def event_calls(self, request_id: str) -> list[InvokeCall]:
        """The calls whose payload carries CloudFormation RequestId ``request_id``."""
        with self._lock:
            return [c for c in self.calls if request_id_of(c.payload) == request_id]

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        payload, function = read_body(request), self.function
        match = re.fullmatch(r"/2015-03-31/functions/([^/?]+)/invocations(\?.*)?", request.path)
        name = unquote(match[1]) if match else ""
        accepted = (
            function is not None
            and name in (function.function_name, function.function_arn)
            and request.headers.get("X-Amz-Invocation-Type") == "Event"
            and str(request.headers.get("Authorization", "")).startswith("AWS4-HMAC-SHA256 ")
        )
        with self._lock:
            self.calls.append(InvokeCall(time.time(), payload, 202 if accepted else 400))
        if not accepted or function is None:
            body = json.dumps({"Type": "User", "message": f"the stand-in takes signed Event calls of {FUNCTION_ARN}"})
            reply(request, 400, body.encode(), {"x-amzn-ErrorType": "InvalidParameterValueException"})
            return
        function.invoke(payload)
        reply(request, 202, b"", {"x-amzn-RequestId": str(uuid.uuid4())})


# --- everything together -------------------------------------------------------------------------------------------


class LambdaHarness:
    """The function, its loopback lambda:Invoke, Lookout for Vision and Greengrass, started and stopped together.
    Greengrass finds every component version DEPLOYABLE unless a test scripts it."""

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
        self.task_root = task_root or prepare_task_root(spec, work_dir / "task")
        self.lookoutvision = lookoutvision or FakeLookoutVision()
        self.greengrass = greengrass or FakeGreengrass(default="DEPLOYABLE")
        self.invoke_api = LambdaInvokeAPI()
        endpoints = {
            "lookoutvision": self.lookoutvision.url,
            "greengrassv2": self.greengrass.url,
            "lambda": self.invoke_api.url,
        }
        self.function = LambdaFunction(spec, self.task_root, endpoints=endpoints, **function_options)
        self.invoke_api.function = self.function

    def __enter__(self) -> LambdaHarness:
        for server in (self.lookoutvision, self.invoke_api, self.greengrass):
            server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.function.close()
        finally:
            for server in (self.lookoutvision, self.invoke_api, self.greengrass):
                server.__exit__()


# --- checks --------------------------------------------------------------------------------------------------------


def secrets_of(response_url: str) -> list[str]:
    """What must never appear in a log line: the URL, its path, its query and its signature."""
    parts = urlsplit(response_url)
    query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
    found = [response_url, parts.path, unquote(parts.path), parts.query, "X-Amz-Signature", "X-Amz-Credential"]
    return [s for s in [*found, query.get("X-Amz-Signature", "")] if s]


def leaked_lines(lines: Sequence[str], response_urls: Iterable[str]) -> list[str]:
    needles = [s for url in response_urls for s in secrets_of(url)]
    return [line for line in lines if any(needle in line for needle in needles)]


PROBE = r"""
import json, os, sys
import awslambdaric, botocore, botocore.session
report = {"python": sys.version.split()[0], "executable": sys.executable, "sys_path": sys.path,
          "awslambdaric": awslambdaric.__file__, "botocore": botocore.__version__, "botocore_file": botocore.__file__}
data_path = os.environ.pop("AWS_DATA_PATH", None)
report["bare_has_lookoutvision"] = "lookoutvision" in botocore.session.Session().get_available_services()
print(json.dumps(report))
"""


def probe_runtime(function: LambdaFunction) -> dict[str, Any]:
    """Run a probe with exactly an execution environment's interpreter, flags, cwd and environment."""
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
