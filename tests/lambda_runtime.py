"""A faithful local stand-in for AWS Lambda, for running the asset that `cdk synth` produced.

What runs, and how it maps to AWS Lambda:

- **The code** is the synthesized asset: the real `cdk synth` CLI writes the gate stack into a temporary cloud
  assembly once per session, and the function's ``Metadata["aws:asset:path"]`` names the ``asset.*`` folder. The
  folder is copied to a temporary directory that plays ``/var/task`` (LAMBDA_TASK_ROOT).
- **The configuration** comes from the template's ``AWS::Lambda::Function``: Handler, Environment.Variables, Timeout,
  MemorySize, Runtime and LoggingConfig. ``/var/task`` does not exist here, so every environment value that starts
  with ``/var/task`` is rewritten to start with the task-root copy instead (``AWS_DATA_PATH=/var/task/models`` becomes
  ``<task root>/models``); nothing else in the environment is changed.
- **The runtime** is AWS's own runtime interface client, ``awslambdaric`` (with its native ``runtime_client``), and
  the newest boto3/botocore, on Python 3.13 from ``.deps/runtime-py313`` (on a machine without Python 3.13: the
  venv's Python and ``.deps/boto3-newest``, and RUNTIME_NOTE says so), which stands in for ``/var/runtime``
  (LAMBDA_RUNTIME_DIR).
  Each execution environment is one process: ``python -S -m awslambdaric <Handler>`` with ``cwd`` = the task root,
  ``PYTHONPATH=<task root>:<runtime dir>`` (as Lambda sets ``PYTHONPATH=/var/runtime``) and an environment built from
  scratch (no variable of the test process leaks in). ``-S`` keeps the development site-packages (botocore 1.40.60,
  which still has lookoutvision) out; ``-I`` cannot be used because it also ignores PYTHONPATH.
  :func:`probe_runtime` proves that environment.
- **The Runtime API** (``/2018-06-01/runtime/invocation/next``, ``/response``, ``/error``, ``/init/error``) is served
  per execution environment on 127.0.0.1, as Lambda serves it per sandbox. ``/next`` long-polls and answers with the
  event and the ``Lambda-Runtime-Aws-Request-Id``, ``-Deadline-Ms``, ``-Invoked-Function-Arn`` and ``-Trace-Id``
  headers. Like Lambda, the environment is frozen (SIGSTOP) while it waits for work and thawed (SIGCONT) when an
  invocation arrives, and an invocation that has not posted its result by its deadline is recorded as "timed out" and
  its process killed; the next invocation gets a fresh process (a new cold start).
- **Logs**: like Lambda, the runtime gets ``_LAMBDA_TELEMETRY_LOG_FD`` and writes framed log records to it; stdout and
  stderr are captured too. Platform lines (START, END, REPORT, "Task timed out") are added as Lambda adds them.
- **lambda:Invoke** is played by :class:`LambdaInvokeAPI` on 127.0.0.1 (rest-json,
  ``POST /2015-03-31/functions/{FunctionName}/invocations``): ``X-Amz-Invocation-Type: Event`` answers 202 and
  queues the payload as a new invocation of the same function, so a wait handed off to a new invocation continues
  end to end. Failures can be injected. The runtime reaches it through ``AWS_ENDPOINT_URL_LAMBDA``.
- **Lookout for Vision** is :class:`TimedLookoutVision`, the loopback API of ``support.FakeLookoutVision`` with job
  timelines on a compressed clock (``time_scale`` virtual seconds per real second) and an optional token-bucket quota
  that answers 429 ThrottlingException. The runtime reaches it through ``AWS_ENDPOINT_URL_LOOKOUTVISION``.

Deadlines are whatever the test gives each invocation (the template's Timeout by default). A short deadline is what
the runtime would report near the end of a long invocation, so a test can make the handler hand off after seconds.
Every wait in this module has a timeout, and :meth:`LambdaFunction.close` kills every process it started.
"""

from __future__ import annotations

import atexit
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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from support import FUNCTION_ARN, STACK_ID, FakeLookoutVision, ResponseRecorder, Step, error

from model_packaging_job.contract import RESOURCE_TYPE as CUSTOM_RESOURCE_TYPE

ROOT = Path(__file__).resolve().parents[1]
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
# The function declares python3.14, which the registries these machines reach cannot install; the newest runtime
# they can run is python3.13 (pyenv). make setup installs awslambdaric and the newest boto3 for it into
# .deps/runtime-py313 and names the interpreter in its .python file. Without it, the venv's Python runs the asset on
# .deps/boto3-newest, and RUNTIME_NOTE says so in the test output.
RUNTIME_TARGET = "3.13"
_RUNTIME313 = ROOT / ".deps" / "runtime-py313"


def _runtime() -> tuple[Path, Path, str]:
    marker = _RUNTIME313 / ".python"
    named = Path(marker.read_text().strip()) if marker.is_file() else None
    if named is not None and named.is_file() and (_RUNTIME313 / "awslambdaric").is_dir():
        return named, _RUNTIME313, ""
    return (
        VENV_PYTHON,
        ROOT / ".deps" / "boto3-newest",
        f"no Python {RUNTIME_TARGET} on this machine (make setup found none): "
        f"the asset runs on the venv's Python ({VENV_PYTHON}) instead",
    )


RUNTIME_PYTHON, RUNTIME_DIR, RUNTIME_NOTE = _runtime()
NODE_BIN = ROOT / "node_modules" / ".bin"
GATE_STACK = "LookoutVisionModelGate"

LAMBDA_TASK_ROOT = "/var/task"
ACCOUNT = "123456789012"
REGION = "us-east-1"
# Lambda's limit for an asynchronous invocation's payload.
ASYNC_PAYLOAD_LIMIT = 256 * 1024


# Every runtime process this module started and has not reaped yet: killed at interpreter exit even when a test run
# is torn down abnormally (fixtures normally close them first).
_LIVE_PROCESSES: set[subprocess.Popen[bytes]] = set()
_LIVE_LOCK = threading.Lock()


@atexit.register
def _kill_leftovers() -> None:
    with _LIVE_LOCK:
        leftovers = list(_LIVE_PROCESSES)
    for process in leftovers:
        if process.poll() is None:
            try:
                process.kill()
                process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass


def say(config: Any, line: str) -> None:
    """Write ``line`` to the run's output now, past pytest's capture (as ``capsys.disabled()`` does)."""
    reporter = config.pluginmanager.getplugin("terminalreporter")
    capture = config.pluginmanager.getplugin("capturemanager")
    if reporter is None:
        return
    if capture is None:
        reporter.write_line(line)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(line)


class HarnessError(AssertionError):
    """The stand-in could not do what a test asked within its time bound."""


def quiet(server: ThreadingHTTPServer) -> ThreadingHTTPServer:
    """Drop the traceback socketserver prints when a client goes away mid-request (a killed runtime, a read
    timeout): those are scenarios here, not errors of the stand-in."""
    server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
    return server


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.05) -> None:
    """Poll ``predicate`` until it holds; raise HarnessError naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() >= deadline:
            raise HarnessError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(poll_s)


# --- the synthesized function --------------------------------------------------------------------------------------


def _cdk_env() -> dict[str, str]:
    env = dict(os.environ)
    for var in ("CDK_OUTDIR", "CDK_CONTEXT_JSON", "PYTHONPATH"):
        env.pop(var, None)
    env["PATH"] = os.pathsep.join([str(NODE_BIN), str(ROOT / ".venv" / "bin"), env.get("PATH", "")])
    env.update(
        {
            "CDK_DISABLE_VERSION_CHECK": "1",
            "CDK_DISABLE_CLI_TELEMETRY": "true",
            "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
        }
    )
    return env


def cdk_synth(outdir: Path, timeout_s: float = 300) -> Path:
    """Run the real CDK CLI on the app (cdk.json) into ``outdir``; return ``outdir``."""
    result = subprocess.run(
        [str(NODE_BIN / "cdk"), "synth", "--quiet", "--no-notices", "-o", str(outdir)],
        cwd=ROOT,
        env=_cdk_env(),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if result.returncode != 0:
        raise HarnessError(f"cdk synth failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return outdir


@dataclass(frozen=True)
class FunctionSpec:
    """What the template says about the handler function."""

    logical_id: str
    handler: str
    environment: dict[str, str]
    timeout_s: int
    memory_mb: int
    runtime: str
    log_format: str
    asset_dir: Path
    async_retries: int

    @classmethod
    def from_template(cls, template: Mapping[str, Any], assembly_dir: Path) -> FunctionSpec:
        resources = template["Resources"]
        functions = [(k, v) for k, v in resources.items() if v["Type"] == "AWS::Lambda::Function"]
        if len(functions) != 1:
            raise HarnessError(f"expected one AWS::Lambda::Function, found {[k for k, _ in functions]}")
        logical_id, function = functions[0]
        props = function["Properties"]
        asset_path = function.get("Metadata", {}).get("aws:asset:path")
        if not asset_path:
            raise HarnessError(f"{logical_id} has no aws:asset:path metadata")
        asset_dir = Path(asset_path) if Path(asset_path).is_absolute() else assembly_dir / asset_path
        # An async invocation's retries: Lambda's default is 2; an EventInvokeConfig for the function overrides it.
        retries = 2
        for resource in resources.values():
            if resource["Type"] == "AWS::Lambda::EventInvokeConfig":
                if resource["Properties"].get("FunctionName") == {"Ref": logical_id}:
                    retries = int(resource["Properties"].get("MaximumRetryAttempts", 2))
        return cls(
            logical_id=logical_id,
            handler=props["Handler"],
            environment={str(k): str(v) for k, v in props.get("Environment", {}).get("Variables", {}).items()},
            timeout_s=int(props.get("Timeout", 3)),
            memory_mb=int(props.get("MemorySize", 128)),
            runtime=str(props.get("Runtime", "")),
            log_format=str(props.get("LoggingConfig", {}).get("LogFormat", "Text")),
            asset_dir=asset_dir,
            async_retries=retries,
        )


@dataclass(frozen=True)
class SynthesizedApp:
    assembly_dir: Path
    template: dict[str, Any]
    function: FunctionSpec

    def custom_resources(self) -> dict[str, dict[str, Any]]:
        return {k: v["Properties"] for k, v in self.template["Resources"].items() if v["Type"] == CUSTOM_RESOURCE_TYPE}


_SYNTH_CACHE: dict[str, SynthesizedApp] = {}
_SYNTH_LOCK = threading.Lock()


def synthesized_gate(base_dir: Path) -> SynthesizedApp:
    """The gate stack as the real `cdk synth` writes it; synthesized once per session (the first caller's dir)."""
    with _SYNTH_LOCK:
        if GATE_STACK not in _SYNTH_CACHE:
            outdir = cdk_synth(base_dir / "cdk.out")
            template = json.loads((outdir / f"{GATE_STACK}.template.json").read_text())
            _SYNTH_CACHE[GATE_STACK] = SynthesizedApp(outdir, template, FunctionSpec.from_template(template, outdir))
        return _SYNTH_CACHE[GATE_STACK]


def prepare_task_root(spec: FunctionSpec, dest: Path) -> Path:
    """Copy the asset to ``dest``, which plays /var/task for every execution environment of the function."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(spec.asset_dir, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def map_task_root(environment: Mapping[str, str], task_root: Path) -> dict[str, str]:
    """Rewrite values under /var/task to the local task root, the one difference from a real sandbox."""
    mapped = {}
    for key, value in environment.items():
        parts = []
        for part in value.split(os.pathsep):
            if part == LAMBDA_TASK_ROOT or part.startswith(LAMBDA_TASK_ROOT + "/"):
                part = str(task_root) + part[len(LAMBDA_TASK_ROOT) :]
            parts.append(part)
        mapped[key] = os.pathsep.join(parts)
    return mapped


def cfn_properties(template_properties: Mapping[str, Any], service_token: str = FUNCTION_ARN) -> dict[str, Any]:
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

    out = {"ServiceToken": service_token}
    out.update({k: stringify(v) for k, v in template_properties.items() if k != "ServiceToken"})
    return out


def cfn_event(
    request_type: str,
    resource_properties: Mapping[str, Any],
    response_url: str,
    *,
    logical_id: str = "ModelPackagingJob21DA863A",
    physical_id: str | None = None,
    old_properties: Mapping[str, Any] | None = None,
    stack_id: str = STACK_ID,
) -> dict[str, Any]:
    """A CloudFormation custom-resource request as the service sends it."""
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": resource_properties.get("ServiceToken", FUNCTION_ARN),
        "ResponseURL": response_url,
        "StackId": stack_id,
        "RequestId": str(uuid.uuid4()),
        "LogicalResourceId": logical_id,
        "ResourceType": CUSTOM_RESOURCE_TYPE,
        "ResourceProperties": dict(resource_properties),
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    if old_properties is not None:
        event["OldResourceProperties"] = dict(old_properties)
    return event


# --- Lookout for Vision on a compressed clock ----------------------------------------------------------------------


class TimedLookoutVision(FakeLookoutVision):
    """FakeLookoutVision whose jobs follow timelines on a compressed clock, behind an optional request quota.

    ``play(project, job, timeline, first=...)``: the ``first`` steps answer the first requests, one each (errors,
    resets, slow answers...); after them, a request at virtual second ``v`` since the timeline's origin gets the step
    of the last timeline entry whose start is <= ``v``. ``time_scale`` is virtual seconds per real second: with 120,
    "SUCCEEDED after 20 minutes" happens 10 s after the origin. The origin is when ``play`` was called, or
    :meth:`restart_clock`.

    ``rate_per_s``: a token bucket (``burst`` tokens, refilled at ``rate_per_s``) in front of every job; a request
    finding it empty gets 429 ThrottlingException (with ``Retry-After`` when ``retry_after_s`` is set) and consumes no
    step. Every request is recorded with its time and whether it was throttled.
    """

    def __init__(
        self,
        *,
        time_scale: float = 60.0,
        rate_per_s: float | None = None,
        burst: int = 5,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__()
        # socketserver listens with a backlog of 5; a hundred clients connecting at once need more.
        self.server.socket.listen(512)
        quiet(self.server)
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.time_scale = time_scale
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.retry_after_s = retry_after_s
        self._tokens = float(burst)
        self._refilled_at = time.monotonic()
        self._timelines: dict[tuple[str, str], tuple[float, list[tuple[float, Step]]]] = {}
        self._first: dict[tuple[str, str], deque[Step]] = {}

    def play(
        self, project: str, job: str, timeline: Sequence[tuple[float, Step]] = (), *, first: Iterable[Step] = ()
    ) -> None:
        steps = sorted(timeline, key=lambda entry: entry[0])
        if steps and steps[0][0] > 0:
            raise ValueError("a timeline must say what the job looks like from virtual second 0")
        with self._lock:
            self.projects.add(project)
            self._timelines[(project, job)] = (time.monotonic(), list(steps))
            self._first[(project, job)] = deque(first)

    def restart_clock(self) -> None:
        now = time.monotonic()
        with self._lock:
            self._timelines = {key: (now, steps) for key, (_, steps) in self._timelines.items()}

    def virtual_seconds(self, project: str, job: str) -> float:
        with self._lock:
            origin = self._timelines[(project, job)][0]
        return (time.monotonic() - origin) * self.time_scale

    def _take_token(self, now: float) -> bool:
        if self.rate_per_s is None:
            return True
        self._tokens = min(float(self.burst), self._tokens + (now - self._refilled_at) * self.rate_per_s)
        self._refilled_at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def _next(self, project: str, job: str, path: str = "", headers: dict[str, str] | None = None) -> Step:
        now = time.monotonic()
        with self._lock:
            allowed = self._take_token(now)
            self.requests.append(
                {
                    "project": project,
                    "job": job,
                    "at": now,
                    "path": path,
                    "headers": headers or {},
                    "throttled": not allowed,
                }
            )
            if not allowed:
                extra_headers = {"Retry-After": f"{self.retry_after_s:g}"} if self.retry_after_s is not None else {}
                return error(429, "ThrottlingException", "Rate exceeded", headers=extra_headers)
            first = self._first.get((project, job))
            if first:
                return first.popleft()
            timed = self._timelines.get((project, job))
            if timed is not None and timed[1]:
                origin, steps = timed
                virtual = (now - origin) * self.time_scale
                current = steps[0][1]
                for start, step in steps:
                    if start <= virtual:
                        current = step
                return current
            return self._scripted(project, job)

    def request_log(self, project: str | None = None, job: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [
                dict(r)
                for r in self.requests
                if (project is None or r["project"] == project) and (job is None or r["job"] == job)
            ]


class TimedRecorder(ResponseRecorder):
    """ResponseRecorder that also notes when each PUT arrived and whether it was accepted."""

    def __init__(self, fail_first: int = 0, always_fail: bool = False) -> None:
        super().__init__(fail_first=fail_first, always_fail=always_fail)
        self.attempt_log: list[tuple[float, bool]] = []
        self.answer_times: list[float] = []
        recorder = self
        base = self.server.RequestHandlerClass

        class Timed(base):  # type: ignore[misc, valid-type]
            def do_PUT(self) -> None:
                before = len(recorder.bodies)
                super().do_PUT()
                with recorder._lock:
                    accepted = len(recorder.bodies) > before
                    recorder.attempt_log.append((time.time(), accepted))
                    if accepted:
                        recorder.answer_times.append(time.time())

        self.server.RequestHandlerClass = Timed
        quiet(self.server)
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> TimedRecorder:
        super().__enter__()
        return self

    def wait_answers(self, count: int, timeout_s: float) -> None:
        wait_until(lambda: len(self.bodies) >= count, timeout_s, f"{count} answer(s) at the ResponseURL")


# --- the Lambda service --------------------------------------------------------------------------------------------


@dataclass
class Invocation:
    """One invocation of the function, as Lambda tracks it."""

    request_id: str
    payload: bytes
    invocation_type: str
    timeout_s: float
    queued_at: float
    env_id: int | None = None
    dispatched_at: float | None = None
    deadline: float | None = None  # epoch seconds
    finished_at: float | None = None
    status: str = "queued"  # queued | running | success | error | timed_out | crashed | init_failed
    result: bytes = b""
    error_type: str = ""
    retry_of: str | None = None
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def event(self) -> Any:
        return json.loads(self.payload)

    @property
    def returned_in_time(self) -> bool:
        return (
            self.status in ("success", "error")
            and self.finished_at is not None
            and self.deadline is not None
            and self.finished_at <= self.deadline
        )


@dataclass(frozen=True)
class LogLine:
    at: float
    env_id: int
    request_id: str
    source: str  # telemetry | stdout | platform
    text: str


class _RuntimeAPIHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    env: ExecutionEnvironment  # set on the per-environment subclass

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: bytes = b"", headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length", "0") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        if self.path.rstrip("/") != "/2018-06-01/runtime/invocation/next":
            self._reply(404, b'{"errorMessage":"not found","errorType":"NotFound"}')
            return
        invocation = self.env.next_invocation()
        if invocation is None:  # shutting down: the process is about to be killed
            self._reply(500, b'{"errorMessage":"shutting down","errorType":"ShuttingDown"}')
            self.close_connection = True
            return
        self._reply(200, invocation.payload, self.env.function.invocation_headers(invocation))

    def do_POST(self) -> None:
        body = self._body()
        path = self.path.rstrip("/")
        if path == "/2018-06-01/runtime/init/error":
            self.env.init_error(body, self.headers.get("Lambda-Runtime-Function-Error-Type", ""))
            self._reply(202, b'{"status":"OK"}')
            return
        match = re.fullmatch(r"/2018-06-01/runtime/invocation/([^/]+)/(response|error)", path)
        if not match:
            self._reply(404, b'{"errorMessage":"not found","errorType":"NotFound"}')
            return
        request_id, kind = unquote(match.group(1)), match.group(2)
        accepted = self.env.finish(
            request_id, kind, body, self.headers.get("Lambda-Runtime-Function-Error-Type", "Unhandled")
        )
        if accepted:
            self._reply(202, b'{"status":"OK"}')
        else:
            self._reply(400, b'{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}')


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
        self.ready_at: float | None = None
        self.init_errors: list[dict[str, Any]] = []

        handler_cls = type(f"RuntimeAPI{env_id}", (_RuntimeAPIHandler,), {"env": self})
        self.server = quiet(ThreadingHTTPServer(("127.0.0.1", 0), handler_cls))
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self._server_thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
        )
        self._server_thread.start()

        log_read, log_write = os.pipe()
        env = function.process_environment(self.address)
        env["_LAMBDA_TELEMETRY_LOG_FD"] = str(log_write)
        try:
            self.process = subprocess.Popen(
                [str(function.python), "-S", "-m", "awslambdaric", function.spec.handler],
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
        with _LIVE_LOCK:
            _LIVE_PROCESSES.add(self.process)
        self._readers = [
            threading.Thread(target=self._read_frames, args=(log_read,), daemon=True),
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._watch_exit, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    # -- logs --

    def _current_id(self) -> str:
        current = self.current
        return current.request_id if current else ""

    def _read_frames(self, fd: int) -> None:
        with os.fdopen(fd, "rb", buffering=0) as pipe:
            buffer = b""
            while True:
                chunk = pipe.read(65536)
                if not chunk:
                    break
                buffer += chunk
                while len(buffer) >= 16:
                    length = int.from_bytes(buffer[4:8], "big")
                    if len(buffer) < 16 + length:
                        break
                    text = buffer[16 : 16 + length].decode("utf-8", "replace")
                    buffer = buffer[16 + length :]
                    self.function.add_log(self.env_id, self._current_id(), "telemetry", text)

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            self.function.add_log(self.env_id, self._current_id(), "stdout", raw.decode("utf-8", "replace"))

    def _watch_exit(self) -> None:
        code = self.process.wait()
        with _LIVE_LOCK:
            _LIVE_PROCESSES.discard(self.process)
        self.function.environment_exited(self, code)

    # -- freeze and kill --

    def _signal(self, sig: signal.Signals) -> None:
        try:
            os.kill(self.process.pid, sig)
        except ProcessLookupError:
            pass

    def freeze(self) -> None:
        if self.function.freeze_between_invocations and not self.frozen and self.process.poll() is None:
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
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired as exc:
                raise HarnessError(f"runtime process {self.process.pid} survived SIGKILL") from exc

    def close(self) -> None:
        self.kill()
        self.server.shutdown()
        self.server.server_close()
        if self.process.stdout is not None:
            self.process.stdout.close()

    # -- the Runtime API --

    def next_invocation(self) -> Invocation | None:
        return self.function.take_next(self)

    def finish(self, request_id: str, kind: str, body: bytes, error_type: str) -> bool:
        return self.function.finish(self, request_id, kind, body, error_type)

    def init_error(self, body: bytes, error_type: str) -> None:
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = {"raw": body.decode("utf-8", "replace")}
        self.init_errors.append({"errorType": error_type, **(parsed if isinstance(parsed, dict) else {})})
        self.function.note_init_error(self, error_type, parsed)


class LambdaFunction:
    """A Lambda function with on-demand execution environments, an async event queue and Lambda's deadline rules."""

    def __init__(
        self,
        spec: FunctionSpec,
        task_root: Path,
        *,
        function_arn: str = FUNCTION_ARN,
        endpoints: Mapping[str, str] | None = None,
        max_concurrency: int = 10,
        timeout_policy: Callable[[Invocation], float] | None = None,
        extra_environment: Mapping[str, str] | None = None,
        freeze_between_invocations: bool = True,
        python: Path = RUNTIME_PYTHON,
    ) -> None:
        self.spec = spec
        self.task_root = task_root
        self.function_arn = function_arn
        self.function_name = function_arn.rsplit(":", 1)[-1]
        self.endpoints = dict(endpoints or {})
        self.max_concurrency = max_concurrency
        self.timeout_policy = timeout_policy
        self.extra_environment = dict(extra_environment or {})
        self.freeze_between_invocations = freeze_between_invocations
        self.python = python
        # An empty home with no AWS config or credentials files: only the sandbox's variables configure boto3.
        self.home = task_root.parent / f"{task_root.name}-home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.invocations: list[Invocation] = []
        self.environments: list[ExecutionEnvironment] = []
        self.logs: list[LogLine] = []
        self.init_errors: list[tuple[int, str, Any]] = []
        self.timed_out: list[Invocation] = []
        self._queue: deque[Invocation] = deque()
        self._cv = threading.Condition()
        self._ids = itertools.count(1)
        self._timers: list[threading.Timer] = []
        self._closed = False

    # -- configuration of a sandbox --

    def process_environment(self, runtime_api: str) -> dict[str, str]:
        """The variables Lambda sets in a sandbox, then the function's own (mapped to the local task root)."""
        stream = f"{time.strftime('%Y/%m/%d', time.gmtime())}/[$LATEST]{uuid.uuid4().hex}"
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
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_FORMAT": self.spec.log_format,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "ASIAEXAMPLEEXAMPLE00",
            "AWS_SECRET_ACCESS_KEY": "test/secret/not/a/real/key/EXAMPLEKEY0",
            "AWS_SESSION_TOKEN": "test-session-token",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": str(self.home / "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.home / "no-credentials"),
        }
        for service, url in self.endpoints.items():
            variables[f"AWS_ENDPOINT_URL_{service.upper()}"] = url
        variables.update(map_task_root(self.spec.environment, self.task_root))
        variables.update(self.extra_environment)
        return variables

    def invocation_headers(self, invocation: Invocation) -> dict[str, str]:
        assert invocation.deadline is not None
        return {
            "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
            "Lambda-Runtime-Deadline-Ms": str(int(invocation.deadline * 1000)),
            "Lambda-Runtime-Invoked-Function-Arn": self.function_arn,
            "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
        }

    # -- logs --

    def add_log(self, env_id: int, request_id: str, source: str, text: str) -> None:
        with self._cv:
            self.logs.append(LogLine(time.time(), env_id, request_id, source, text))

    def log_mark(self) -> int:
        with self._cv:
            return len(self.logs)

    def log_lines(self, since: int = 0) -> list[str]:
        """Every line logged since ``since`` (a log_mark), records split at newlines and carriage returns."""
        with self._cv:
            records = list(self.logs[since:])
        return [line for record in records for line in re.split(r"[\r\n]+", record.text) if line.strip()]

    def log_text(self, since: int = 0) -> str:
        return "\n".join(self.log_lines(since))

    # -- invoking --

    def invoke(self, payload: Any, invocation_type: str = "Event", timeout_s: float | None = None) -> Invocation:
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
        invocation = Invocation(
            request_id=str(uuid.uuid4()),
            payload=raw,
            invocation_type=invocation_type,
            timeout_s=float(timeout_s) if timeout_s is not None else 0.0,
            queued_at=time.time(),
        )
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
        wait_until(
            lambda: (
                sum(1 for e in self.environments if e.state == "ready") >= count
                or any(e.state == "dead" for e in self.environments)
            ),
            timeout_s,
            f"{count} execution environments to finish init",
        )
        dead = [e.env_id for e in self.environments if e.state == "dead"]
        if dead:
            raise HarnessError(f"environments {dead} died during init: {self.init_errors}\n{self.log_text()[-3000:]}")
        return time.monotonic() - started

    def take_next(self, env: ExecutionEnvironment) -> Invocation | None:
        """Long-poll for the next invocation on behalf of ``env`` (its runtime called /next)."""
        with self._cv:
            if env.state == "init":
                env.ready_at = time.time()
            env.state = "ready"
            # env.current stays the previous invocation until the next one arrives: log records of its last moments
            # that the reader thread takes off the pipe late are still attributed to it.
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
            timeout_s = invocation.timeout_s or (
                self.timeout_policy(invocation) if self.timeout_policy else float(self.spec.timeout_s)
            )
            invocation.timeout_s = timeout_s
            now = time.time()
            invocation.env_id = env.env_id
            invocation.dispatched_at = now
            invocation.deadline = now + timeout_s
            invocation.status = "running"
            env.state = "busy"
            env.current = invocation
        env.thaw()
        self.add_log(env.env_id, invocation.request_id, "platform", f"START RequestId: {invocation.request_id}")
        timer = threading.Timer(max(0.0, invocation.deadline - time.time()), self._deadline_passed, (env, invocation))
        timer.daemon = True
        with self._cv:
            self._timers.append(timer)
        timer.start()
        return invocation

    def finish(self, env: ExecutionEnvironment, request_id: str, kind: str, body: bytes, error_type: str) -> bool:
        with self._cv:
            invocation = env.current
            if invocation is None or invocation.request_id != request_id or invocation.status != "running":
                return False
            invocation.finished_at = time.time()
            invocation.result = body
            invocation.status = "success" if kind == "response" else "error"
            invocation.error_type = "" if kind == "response" else error_type
            env.state = "done"
            self._cv.notify_all()
        self._platform_end(env, invocation)
        invocation.done.set()
        if invocation.status == "error":
            self._maybe_retry(invocation)
        return True

    def _platform_end(self, env: ExecutionEnvironment, invocation: Invocation) -> None:
        assert invocation.dispatched_at is not None
        duration_ms = ((invocation.finished_at or time.time()) - invocation.dispatched_at) * 1000
        self.add_log(env.env_id, invocation.request_id, "platform", f"END RequestId: {invocation.request_id}")
        self.add_log(
            env.env_id,
            invocation.request_id,
            "platform",
            f"REPORT RequestId: {invocation.request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Memory Size: {self.spec.memory_mb} MB",
        )

    def _deadline_passed(self, env: ExecutionEnvironment, invocation: Invocation) -> None:
        with self._cv:
            if invocation.status != "running":
                return
            invocation.status = "timed_out"
            invocation.finished_at = time.time()
            env.state = "dead"
            self.timed_out.append(invocation)
            self._cv.notify_all()
        self.add_log(
            env.env_id,
            invocation.request_id,
            "platform",
            f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {invocation.request_id} "
            f"Task timed out after {invocation.timeout_s:.2f} seconds",
        )
        env.kill()
        self._platform_end(env, invocation)
        invocation.done.set()
        self._maybe_retry(invocation)
        self._ensure_capacity()

    def _maybe_retry(self, invocation: Invocation) -> None:
        """Lambda retries a failed async invocation up to the function's MaximumRetryAttempts (0 for ours)."""
        if invocation.invocation_type != "Event":
            return
        attempts, parent = 0, invocation
        while parent.retry_of is not None:
            attempts += 1
            parent = next(i for i in self.invocations if i.request_id == parent.retry_of)
        if attempts < self.spec.async_retries:
            retry = self.invoke(invocation.payload, "Event")
            retry.retry_of = invocation.request_id

    def environment_exited(self, env: ExecutionEnvironment, code: int) -> None:
        failed_init: Invocation | None = None
        with self._cv:
            previous = env.state
            env.state = "dead"
            invocation = env.current
            crashed = invocation is not None and invocation.status == "running"
            if crashed and invocation is not None:
                invocation.status = "crashed"
                invocation.error_type = f"Runtime.ExitError (exit {code})"
                invocation.finished_at = time.time()
            if previous == "init" and not env.stopping and self._queue:
                # Lambda fails the invocation whose cold start failed, rather than retrying init forever.
                failed_init = self._queue.popleft()
                failed_init.status = "init_failed"
                failed_init.error_type = env.init_errors[-1]["errorType"] if env.init_errors else "Runtime.ExitError"
                failed_init.finished_at = time.time()
            self._cv.notify_all()
        if crashed and invocation is not None:
            invocation.done.set()
        if failed_init is not None:
            failed_init.done.set()
        if not env.stopping:
            self._ensure_capacity()

    def note_init_error(self, env: ExecutionEnvironment, error_type: str, body: Any) -> None:
        with self._cv:
            self.init_errors.append((env.env_id, error_type, body))

    # -- waiting and closing --

    def busy(self) -> bool:
        with self._cv:
            return bool(self._queue) or any(i.status in ("queued", "running") for i in self.invocations)

    def invocations_for(self, request_id: str) -> list[Invocation]:
        """The invocations whose event carries CloudFormation RequestId ``request_id`` (the first and every
        continuation), in the order they were queued."""
        with self._cv:
            invocations = list(self.invocations)
        return [i for i in invocations if _request_id(i.payload) == request_id]

    def wait_request(self, request_id: str, timeout_s: float) -> list[Invocation]:
        """Wait until every invocation for ``request_id`` has ended; a hand-off queues the next one before the
        current one returns, so this is the end of the request's whole chain."""

        def ended() -> bool:
            invocations = self.invocations_for(request_id)
            return bool(invocations) and all(i.status not in ("queued", "running") for i in invocations)

        wait_until(ended, timeout_s, f"the invocations of request {request_id} to end")
        return self.invocations_for(request_id)

    def wait_quiet(self, timeout_s: float) -> None:
        """Wait until nothing is queued or running (a hand-off is queued before its invocation returns)."""
        wait_until(lambda: not self.busy(), timeout_s, "the function to finish every invocation")

    def close(self) -> None:
        with self._cv:
            self._closed = True
            environments = list(self.environments)
            timers = list(self._timers)
            self._cv.notify_all()
        for timer in timers:
            timer.cancel()
        errors = []
        threads = []
        for env in environments:

            def close_one(env: ExecutionEnvironment = env) -> None:
                try:
                    env.close()
                except Exception as exc:
                    errors.append(exc)

            thread = threading.Thread(target=close_one, daemon=True)
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join(timeout=15)
        alive = [e.process.pid for e in environments if e.process.poll() is None]
        if alive or errors:
            raise HarnessError(f"could not stop runtime processes {alive}: {errors}")


# --- lambda:Invoke on loopback -------------------------------------------------------------------------------------


@dataclass
class InvokeCall:
    at: float
    function_name: str
    invocation_type: str
    payload: bytes
    status: int
    signed: bool

    @property
    def event(self) -> Any:
        return json.loads(self.payload)


class LambdaInvokeAPI:
    """POST /2015-03-31/functions/{FunctionName}/invocations, for the one function it fronts.

    ``Event`` queues an asynchronous invocation and answers 202; ``RequestResponse`` waits for the result (bounded);
    ``DryRun`` answers 204. ``fail_next(n, ...)`` makes the next ``n`` calls fail with a Lambda error, and
    ``answer_late(n, seconds)`` makes the next ``n`` calls queue their invocation at once but answer 202 only after
    ``seconds`` (Lambda accepted the event; its answer is slow); with ``request_id``, only calls whose payload carries
    that CloudFormation RequestId (so that concurrent scenarios do not take each other's failures).
    """

    def __init__(self) -> None:
        self.function: LambdaFunction | None = None
        self.calls: list[InvokeCall] = []
        self._failures: list[tuple[str | None, int, str, str]] = []
        self._late: list[tuple[str | None, float]] = []
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                api._handle(self)

        self.server = quiet(ThreadingHTTPServer(("127.0.0.1", 0), Handler))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> LambdaInvokeAPI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_next(
        self,
        count: int,
        status: int = 500,
        error_type: str = "ServiceException",
        message: str = "Service error",
        *,
        request_id: str | None = None,
    ) -> None:
        with self._lock:
            self._failures.extend([(request_id, status, error_type, message)] * count)

    def answer_late(self, count: int, seconds: float, *, request_id: str | None = None) -> None:
        with self._lock:
            self._late.extend([(request_id, seconds)] * count)

    def _take_failure(self, payload: bytes) -> tuple[int, str, str] | None:
        request_id = _request_id(payload)
        with self._lock:
            for index, (wanted, status, error_type, message) in enumerate(self._failures):
                if wanted is None or wanted == request_id:
                    del self._failures[index]
                    return status, error_type, message
        return None

    def _take_lateness(self, payload: bytes) -> float:
        request_id = _request_id(payload)
        with self._lock:
            for index, (wanted, seconds) in enumerate(self._late):
                if wanted is None or wanted == request_id:
                    del self._late[index]
                    return seconds
        return 0.0

    def event_calls(self, request_id: str | None = None) -> list[InvokeCall]:
        """Asynchronous calls, optionally only those carrying a CloudFormation RequestId."""
        with self._lock:
            calls = [c for c in self.calls if c.invocation_type == "Event"]
        return [c for c in calls if request_id is None or _request_id(c.payload) == request_id]

    @staticmethod
    def _send(request: BaseHTTPRequestHandler, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        request.send_response(status)
        request.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for key, value in headers.items():
            request.send_header(key, value)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def _error(self, request: BaseHTTPRequestHandler, status: int, error_type: str, message: str) -> None:
        body = json.dumps({"Type": "User" if status < 500 else "Service", "message": message}).encode()
        self._send(request, status, body, {"x-amzn-ErrorType": error_type, "Content-Type": "application/json"})

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length", "0") or 0)
        payload = request.rfile.read(length) if length else b""
        match = re.fullmatch(r"/2015-03-31/functions/([^/?]+)/invocations(\?.*)?", request.path)
        invocation_type = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        signed = str(request.headers.get("Authorization", "")).startswith("AWS4-HMAC-SHA256 ")
        name = unquote(match.group(1)) if match else ""

        def record(status: int) -> None:
            with self._lock:
                self.calls.append(InvokeCall(time.time(), name, invocation_type, payload, status, signed))

        failure = self._take_failure(payload)
        function = self.function
        if not match:
            record(404)
            self._error(request, 404, "UnknownOperationException", f"no route {request.path}")
        elif failure is not None:
            record(failure[0])
            self._error(request, *failure)
        elif not signed:
            record(403)
            self._error(request, 403, "MissingAuthenticationTokenException", "Missing Authentication Token")
        elif function is None or name not in (
            function.function_name,
            function.function_arn,
            f"{function.function_arn}:$LATEST",
        ):
            record(404)
            self._error(request, 404, "ResourceNotFoundException", f"Function not found: {name}")
        elif invocation_type == "Event" and len(payload) > ASYNC_PAYLOAD_LIMIT:
            record(413)
            self._error(request, 413, "RequestEntityTooLargeException", "Request must be smaller than 262144 bytes")
        elif not _is_json(payload):
            record(400)
            self._error(request, 400, "InvalidRequestContentException", "Could not parse request body into json")
        elif invocation_type == "DryRun":
            record(204)
            self._send(request, 204, b"", {})
        elif invocation_type == "Event":
            function.invoke(payload, "Event")
            record(202)
            late_s = self._take_lateness(payload)
            if late_s:
                time.sleep(late_s)
            try:
                self._send(request, 202, b"", {})
            except OSError:  # the caller stopped waiting for the answer; the invocation is queued all the same
                request.close_connection = True
        else:
            invocation = function.invoke(payload, "RequestResponse")
            if not invocation.done.wait(timeout=function.spec.timeout_s + 30):
                record(504)
                self._error(request, 504, "ServiceException", "the invocation did not finish")
                return
            record(200)
            headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST"}
            if invocation.status != "success":
                headers["X-Amz-Function-Error"] = "Unhandled"
            self._send(request, 200, invocation.result, headers)


def _request_id(payload: bytes) -> str | None:
    try:
        event = json.loads(payload)
    except ValueError:
        return None
    request_id = event.get("RequestId") if isinstance(event, dict) else None
    return request_id if isinstance(request_id, str) else None


def _is_json(payload: bytes) -> bool:
    if not payload:
        return True
    try:
        json.loads(payload)
    except ValueError:
        return False
    return True


# --- everything together -------------------------------------------------------------------------------------------


class LambdaHarness:
    """The function, its loopback lambda:Invoke and a loopback Lookout for Vision, started and stopped together."""

    def __init__(
        self,
        spec: FunctionSpec,
        work_dir: Path,
        *,
        lookoutvision: TimedLookoutVision | None = None,
        max_concurrency: int = 10,
        timeout_policy: Callable[[Invocation], float] | None = None,
        extra_environment: Mapping[str, str] | None = None,
        task_root: Path | None = None,
    ) -> None:
        self.work_dir = work_dir
        work_dir.mkdir(parents=True, exist_ok=True)
        self.task_root = task_root or prepare_task_root(spec, work_dir / "task")
        self.lookoutvision = lookoutvision or TimedLookoutVision()
        self.invoke_api = LambdaInvokeAPI()
        self.function = LambdaFunction(
            spec,
            self.task_root,
            endpoints={"lookoutvision": self.lookoutvision.url, "lambda": self.invoke_api.url},
            max_concurrency=max_concurrency,
            timeout_policy=timeout_policy,
            extra_environment=extra_environment,
        )
        self.invoke_api.function = self.function

    def __enter__(self) -> LambdaHarness:
        self.lookoutvision.__enter__()
        self.invoke_api.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.function.close()
        finally:
            self.invoke_api.__exit__()
            self.lookoutvision.__exit__()


# --- checks --------------------------------------------------------------------------------------------------------


def secrets_of(response_url: str) -> list[str]:
    """What must never appear in a log line: the URL, its path, its query and its signature."""
    parts = urlsplit(response_url)
    query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
    found = [response_url, parts.path, unquote(parts.path), parts.query, "X-Amz-Signature", "X-Amz-Credential"]
    if "X-Amz-Signature" in query:
        found.append(query["X-Amz-Signature"])
    return [s for s in found if s]


def leaked_lines(lines: Sequence[str], response_urls: Iterable[str]) -> list[str]:
    needles = [s for url in response_urls for s in secrets_of(url)]
    return [line for line in lines if any(needle in line for needle in needles)]


PROBE = r"""
import json, os, sys
report = {"sys_path": sys.path, "cwd": os.getcwd(), "python": sys.version.split()[0], "executable": sys.executable}
try:
    import aws_cdk  # noqa: F401
    report["dev_environment_importable"] = True
except ImportError:
    report["dev_environment_importable"] = False
import awslambdaric, boto3, botocore, botocore.session
report["awslambdaric"] = awslambdaric.__file__
report["botocore_version"] = botocore.__version__
report["botocore_file"] = botocore.__file__
report["boto3_version"] = boto3.__version__
data_path = os.environ.pop("AWS_DATA_PATH", None)
report["bare_has_lookoutvision"] = "lookoutvision" in botocore.session.Session().get_available_services()
if data_path is not None:
    os.environ["AWS_DATA_PATH"] = data_path
report["with_data_path_has_lookoutvision"] = (
    "lookoutvision" in botocore.session.Session().get_available_services()
)
report["aws_data_path"] = data_path
print(json.dumps(report))
"""


def probe_runtime(function: LambdaFunction) -> dict[str, Any]:
    """Run a probe with exactly an execution environment's interpreter, flags, cwd and environment."""
    env = function.process_environment("127.0.0.1:9")
    result = subprocess.run(
        [str(function.python), "-S", "-c", PROBE],
        cwd=function.task_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise HarnessError(f"the runtime probe failed:\n{result.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report
