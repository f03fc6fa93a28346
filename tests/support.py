"""The tests' one copy of each test double: the offline environment, a virtual clock, a Lambda context with a real
deadline, CloudFormation events, and the loopback servers (Lookout for Vision, the ResponseURL) that speak the wire."""

from __future__ import annotations

import json
import os
import random
import socket
import sys
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from model_packaging_job.contract import RESOURCE_TYPE

# --- the offline environment ---------------------------------------------------------------------------------------

# What AWS clients get in every test, benchmark and child process: the documented example keys, a Region and no
# instance-metadata lookups, so nothing can reach AWS. OFFLINE_ENV adds the switches that quiet jsii and the CDK CLI.
AWS_OFFLINE = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AWS_EC2_METADATA_DISABLED": "true",
}
OFFLINE_ENV = {
    **AWS_OFFLINE,
    "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
    "CDK_DISABLE_VERSION_CHECK": "1",
    "CDK_DISABLE_CLI_TELEMETRY": "true",
}
# What a developer's shell may set that would send a call elsewhere.
ONLINE_VARS = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_LOOKOUTVISION")


def offline_env(base: Mapping[str, str] = os.environ, **extra: str) -> dict[str, str]:
    """``base`` (pass ``{}`` to start from scratch) without ONLINE_VARS, with OFFLINE_ENV and then ``extra``."""
    return {**{k: v for k, v in base.items() if k not in ONLINE_VARS}, **OFFLINE_ENV, **extra}


class HarnessError(AssertionError):
    """A stand-in could not do what a test asked within its time bound."""


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.05) -> None:
    """Poll ``predicate`` until it holds; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() >= deadline:
            raise HarnessError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(poll_s)


class VirtualClock:
    """Time that only moves when someone sleeps on it; ``clock()`` is the packaging_job.Clock that runs on it."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.t = start
        self.start = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"negative sleep {seconds}")
        self.sleeps.append(seconds)
        self.t += seconds

    def clock(self, seed: int = 7) -> Any:
        from model_packaging_job.outbound import Clock

        return Clock(now=self.now, sleep=self.sleep, rng=random.Random(seed))


# What CloudFormation must receive, written out here once as the tests' own expectation (not read from the product).
EXPECTED_BODY_KEYS = frozenset(
    "Status Reason PhysicalResourceId StackId RequestId LogicalResourceId NoEcho Data".split()
)
EXPECTED_DATA_KEYS = frozenset(
    "ComponentVersionArn ComponentName ComponentVersion Status StatusMessage ModelVersion ProjectName JobName "
    "CreationTimestamp LastUpdatedTimestamp".split()
)

STACK_ID = (
    "arn:aws:cloudformation:us-east-1:123456789012:stack/LookoutVisionModelGate/5b9cbb90-1a2b-11ef-9c4d-0a1b2c3d4e5f"
)
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:LookoutVisionModelGate-Handler-AbCdEf123456"
COMPONENT_ARN = "arn:aws:greengrass:us-east-1:123456789012:components:com.example.pcb-defects:versions:1.0.0"


class FakeContext:
    """The parts of the Lambda context the handler reads, with a deadline that really runs out."""

    def __init__(self, timeout_s: float = 900.0, function_arn: str = FUNCTION_ARN) -> None:
        self._deadline = time.monotonic() + timeout_s
        self.invoked_function_arn = function_arn
        self.function_name = function_arn.rsplit(":", 1)[-1]
        self.aws_request_id = str(uuid.uuid4())
        self.log_stream_name = "2026/11/29/[$LATEST]0123456789abcdef"
        self.memory_limit_in_mb = 128

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


# --- CloudFormation events and job descriptions --------------------------------------------------------------------


def properties(project: str = "pcb", job: str = "pcb-v3-x86", **extra: Any) -> dict[str, Any]:
    return {"ServiceToken": FUNCTION_ARN, "ProjectName": project, "JobName": job, **extra}


def make_event(
    request_type: str = "Create",
    response_url: str = "http://127.0.0.1:9/response",
    props: dict[str, Any] | None = None,
    physical_id: str | None = None,
    old_props: dict[str, Any] | None = None,
    logical_id: str = "ModelPackagingJob21DA863A",
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": FUNCTION_ARN,
        "ResponseURL": response_url,
        "StackId": STACK_ID,
        "RequestId": str(uuid.uuid4()),
        "LogicalResourceId": logical_id,
        "ResourceType": RESOURCE_TYPE,
        "ResourceProperties": props if props is not None else properties(),
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    if old_props is not None:
        event["OldResourceProperties"] = old_props
    return event


def description(
    status: str = "SUCCEEDED",
    project: str = "pcb",
    job: str = "pcb-v3-x86",
    status_message: str | None = None,
    component_name: str | None = "com.example.pcb-defects",
    component_version: str = "1.0.0",
    with_output: bool | None = None,
) -> dict[str, Any]:
    """A ModelPackagingDescription as the API returns it (timestamps as datetimes, as botocore parses them)."""
    desc: dict[str, Any] = {
        "JobName": job,
        "ProjectName": project,
        "ModelVersion": "3",
        "ModelPackagingConfiguration": {
            "Greengrass": {
                "ComponentName": component_name or "com.example.pcb-defects",
                "S3OutputLocation": {"Bucket": "pcb-models", "Prefix": "packages/"},
                "TargetPlatform": {"Os": "LINUX", "Arch": "X86_64"},
            }
        },
        "ModelPackagingMethod": "Greengrass",
        "Status": status,
        "CreationTimestamp": datetime(2026, 11, 29, 15, 0, 0, tzinfo=UTC),
        "LastUpdatedTimestamp": datetime(2026, 11, 29, 15, 4, 30, tzinfo=UTC),
    }
    if status_message is not None:
        desc["StatusMessage"] = status_message
    if with_output is None:
        with_output = status == "SUCCEEDED"
    if with_output and component_name:
        arn = COMPONENT_ARN.replace("com.example.pcb-defects", component_name).replace("1.0.0", component_version)
        desc["ModelPackagingOutputDetails"] = {
            "Greengrass": {
                "ComponentVersionArn": arn,
                "ComponentName": component_name,
                "ComponentVersion": component_version,
            }
        }
    return desc


def _wire(desc: dict[str, Any]) -> bytes:
    out = {k: v.timestamp() if isinstance(v, datetime) else v for k, v in desc.items()}
    return json.dumps({"ModelPackagingDescription": out}).encode()


# --- loopback servers ----------------------------------------------------------------------------------------------


class LoopbackServer:
    """An HTTP/1.1 server on 127.0.0.1 in a daemon thread, run as a context manager. Requests of ``methods`` go to
    ``self._handle(request)``. A client that hangs up mid-answer (a read timeout, a killed runtime) is a scenario
    here, so only other errors of a handler are printed."""

    methods: tuple[str, ...] = ("GET",)
    poll_s = 0.02  # how soon serve_forever notices a shutdown

    def __init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall

            def log_message(self, format: str, *args: Any) -> None:
                pass

        for method in self.methods:
            setattr(Handler, f"do_{method}", lambda request: owner._handle(request))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = self._handle_error  # type: ignore[method-assign]
        self.server.socket.listen(512)  # a hundred clients connecting at once, as in the load test
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(self.poll_s,), daemon=True)

    def __enter__(self) -> Any:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    @staticmethod
    def _handle_error(request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):
            traceback.print_exc()


def reply(request: BaseHTTPRequestHandler, status: int, body: bytes = b"", headers: Mapping[str, str] = {}) -> None:
    request.send_response(status)
    for key, value in headers.items():
        request.send_header(key, value)
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)


def read_body(request: BaseHTTPRequestHandler) -> bytes:
    return request.rfile.read(int(request.headers.get("Content-Length") or 0))


@dataclass
class Step:
    """One scripted answer of the fake API. ``kind``: describe | error | reset | slow | trickle | malformed."""

    kind: str
    body: dict[str, Any] | None = None
    status: int = 200
    error_type: str = ""
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    then: Step | None = None  # what a slow or trickling answer finally says


def ok(desc: dict[str, Any]) -> Step:
    return Step("describe", body=desc)


def error(status: int, error_type: str, message: str = "", headers: dict[str, str] | None = None, **extra: Any) -> Step:
    return Step(
        "error", status=status, error_type=error_type, message=message or error_type, headers=headers or {}, extra=extra
    )


def reset() -> Step:
    return Step("reset")


def slow(delay_s: float, then: Step) -> Step:
    return Step("slow", delay_s=delay_s, then=then)


def malformed() -> Step:
    return Step("malformed")


def trickle(every_s: float, then: Step) -> Step:
    """Answer ``then`` one byte every ``every_s`` seconds: each read is quicker than a read timeout, the call is not."""
    return Step("trickle", delay_s=every_s, then=then)


NOT_FOUND = "ResourceNotFoundException"


def _json_headers(extra: Mapping[str, str] = {}) -> dict[str, str]:
    return {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4()), **extra}


class FakeLookoutVision(LoopbackServer):
    """Plays DescribeModelPackagingJob (and StartModelPackagingJob, see ``_start``) on 127.0.0.1, the way the service
    answers; unknown projects and jobs get its 404. A job answers from one of:

    - ``script(project, job, steps)``: every request takes the next step, and the last one repeats;
    - ``play(project, job, timeline, first=...)``: the ``first`` steps answer the first requests, one each; after
      them a request at virtual second ``v`` gets the step of the last timeline entry starting at or before ``v``.
      The clock runs ``time_scale`` virtual seconds per real second (with 120, "SUCCEEDED after 20 minutes" happens
      10 s in) from ``play`` or :meth:`restart_clock`.

    ``rate_per_s``: a token bucket (``burst`` tokens) in front of every job; a request finding it empty gets 429
    ThrottlingException (with ``Retry-After`` when ``retry_after_s`` is set) and takes no step. Every request is
    recorded with its time, path, headers, whether it was throttled and the Status it was answered.
    """

    methods = ("GET", "POST")

    def __init__(
        self,
        *,
        time_scale: float = 60.0,
        rate_per_s: float | None = None,
        burst: int = 5,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__()
        self.scripts: dict[tuple[str, str], list[Step]] = {}
        self.projects: set[str] = set()
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.time_scale, self.rate_per_s, self.burst, self.retry_after_s = time_scale, rate_per_s, burst, retry_after_s
        self._tokens, self._refilled_at = float(burst), time.monotonic()
        self._timelines: dict[tuple[str, str], tuple[float, list[tuple[float, Step]]]] = {}
        self._first: dict[tuple[str, str], deque[Step]] = {}
        # StartModelPackagingJob: every request, the client token each started job was started with, the refusals
        # the next Starts answer, and the script a started job then answers Describe with.
        self.starts: list[dict[str, Any]] = []
        self.started: dict[tuple[str, str], str] = {}
        self.refusals: deque[Step] = deque()
        # Once the queued refusals are used up: the refusal a Start answers, given its request, or None to let it
        # through (a refusal that depends on the time, such as throttling until a given moment).
        self.refuse_start: Callable[[dict[str, Any]], Step | None] | None = None
        self.after_start: Callable[[dict[str, Any]], list[Step]] = lambda request: [
            ok(packaged(request, "CREATED")),
            ok(packaged(request, "RUNNING")),
            ok(packaged(request)),
        ]

    def script(self, project: str, job: str, steps: Iterable[Step]) -> None:
        with self._lock:
            self.projects.add(project)
            self.scripts[(project, job)] = list(steps)

    def play(
        self, project: str, job: str, timeline: Sequence[tuple[float, Step]] = (), *, first: Iterable[Step] = ()
    ) -> None:
        steps = sorted(timeline, key=lambda entry: entry[0])
        if steps and steps[0][0] > 0:
            raise ValueError("a timeline must say what the job looks like from virtual second 0")
        with self._lock:
            self.projects.add(project)
            self._timelines[(project, job)] = (time.monotonic(), steps)
            self._first[(project, job)] = deque(first)

    def restart_clock(self) -> None:
        now = time.monotonic()
        with self._lock:
            self._timelines = {key: (now, steps) for key, (_, steps) in self._timelines.items()}

    def request_log(self, project: str | None = None, job: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [
                dict(r)
                for r in self.requests
                if (project is None or r["project"] == project) and (job is None or r["job"] == job)
            ]

    def calls(self, project: str | None = None, job: str | None = None) -> int:
        return len(self.request_log(project, job))

    def _take_token(self, now: float) -> bool:
        if self.rate_per_s is None:
            return True
        self._tokens = min(float(self.burst), self._tokens + (now - self._refilled_at) * self.rate_per_s)
        self._refilled_at = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True

    def _next(self, project: str, job: str, path: str, headers: dict[str, str]) -> Step:
        now = time.monotonic()
        with self._lock:
            allowed = self._take_token(now)
            self.requests.append(
                {"project": project, "job": job, "at": now, "path": path, "headers": headers, "throttled": not allowed}
            )
            if not allowed:
                retry_after = {"Retry-After": f"{self.retry_after_s:g}"} if self.retry_after_s is not None else {}
                return error(429, "ThrottlingException", "Rate exceeded", headers=retry_after)
            step = self._step(project, job, now)
            if step.kind == "describe" and step.body:
                self.requests[-1]["status"] = step.body.get("Status")
            return step

    def _step(self, project: str, job: str, now: float) -> Step:
        first = self._first.get((project, job))
        if first:
            return first.popleft()
        origin, timeline = self._timelines.get((project, job), (now, []))
        if timeline:
            virtual = (now - origin) * self.time_scale
            return [step for start, step in timeline if start <= virtual][-1]
        script = self.scripts.get((project, job))
        if script is not None:
            return script.pop(0) if len(script) > 1 else script[0]
        if project not in self.projects:
            return error(404, NOT_FOUND, f"Project {project} not found", ResourceId=project, ResourceType="PROJECT")
        return error(404, NOT_FOUND, f"Job {job} not found", ResourceId=job, ResourceType="MODEL_PACKAGE_JOB")

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        parts = request.path.split("?")[0].strip("/").split("/")
        if (
            request.command == "POST"
            and parts[:2] == ["2020-11-20", "projects"]
            and parts[3:] == ["modelpackagingjobs"]
        ):
            self._start(request, unquote(parts[2]))
            return
        if len(parts) != 5 or parts[0] != "2020-11-20" or parts[1] != "projects" or parts[3] != "modelpackagingjobs":
            body = json.dumps({"message": f"no route {request.path}"}).encode()
            reply(request, 404, body, _json_headers({"x-amzn-ErrorType": "UnknownOperationException"}))
            return
        self._play(request, self._next(unquote(parts[2]), unquote(parts[4]), request.path, dict(request.headers)))

    def _start(self, request: BaseHTTPRequestHandler, project: str) -> None:
        """StartModelPackagingJob, idempotent on its client token: the same token starts nothing new; another token
        for a job that exists (started or scripted) is the service's 409 ConflictException."""
        body = {**json.loads(read_body(request) or b"{}"), "ProjectName": project}
        job, token = str(body.get("JobName") or uuid.uuid4().hex[:12]), request.headers.get("X-Amzn-Client-Token", "")
        with self._lock:
            self.starts.append({"project": project, "job": job, "token": token, "body": body, "at": time.monotonic()})
            refusal = self.refusals.popleft() if self.refusals else None
            if refusal is None and self.refuse_start is not None:
                refusal = self.refuse_start(body)
            previous = self.started.get((project, job))
            exists = (project, job) in self.scripts or (project, job) in self._timelines
            if refusal is None and ((previous is None and exists) or previous not in (None, token)):
                refusal = error(409, "ConflictException", f"A model packaging job named {job} already exists")
            if refusal is None and previous is None:
                self.started[(project, job)] = token
                self.projects.add(project)
                self.scripts[(project, job)] = self.after_start(body)
        if refusal is not None:
            self._play(request, refusal)
        else:
            reply(request, 200, json.dumps({"JobName": job}).encode(), _json_headers())

    def _play(self, request: BaseHTTPRequestHandler, step: Step) -> None:
        then = step.then or ok(description())
        if step.kind == "slow":
            time.sleep(step.delay_s)
            self._play(request, then)
        elif step.kind == "trickle":
            raw = _wire(then.body or {})
            request.send_response(200)
            request.send_header("Content-Type", "application/json")
            request.send_header("Content-Length", str(len(raw)))
            request.end_headers()
            try:
                for index in range(len(raw)):
                    request.wfile.write(raw[index : index + 1])
                    request.wfile.flush()
                    time.sleep(step.delay_s)
            except OSError:  # the client gave up on the call: what the scenario is about
                request.close_connection = True
        elif step.kind == "reset":
            request.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            request.connection.close()
            request.close_connection = True
        elif step.kind == "malformed":
            reply(request, 200, b'{"ModelPackagingDescription": {"Status": "SUCC', {"Content-Type": "application/json"})
        elif step.kind == "error":
            body = json.dumps({"message": step.message, **step.extra}).encode()
            reply(request, step.status, body, _json_headers({"x-amzn-ErrorType": step.error_type, **step.headers}))
        else:
            reply(request, 200, _wire(step.body or {}), _json_headers())


class ResponseRecorder(LoopbackServer):
    """Records the PUTs a handler sends to its ResponseURL, and when each arrived. ``fail_first`` answers 500 that
    many times first; ``always_fail`` never accepts."""

    methods = ("PUT",)

    def __init__(self, fail_first: int = 0, always_fail: bool = False) -> None:
        super().__init__()
        self.bodies: list[dict[str, Any]] = []
        self.raw: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        self.paths: list[str] = []
        self.answer_times: list[float] = []
        self.attempts = 0
        self.fail_first, self.always_fail = fail_first, always_fail
        self._lock = threading.Lock()
        # Shaped like a presigned S3 URL, so that log-hygiene checks have something real to look for.
        self.url += (
            "/cloudformation-custom-resource-response-useast1/"
            "arn%3Aaws%3Acloudformation%3Aus-east-1%3A123456789012%3Astack/LookoutVisionModelGate/x%7CJob%7Cid"
            "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261129T160000Z&X-Amz-SignedHeaders=host"
            "&X-Amz-Expires=7200&X-Amz-Credential=AKIAEXAMPLE%2F20261129%2Fus-east-1%2Fs3%2Faws4_request"
            "&X-Amz-Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        )

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        raw = read_body(request)
        arrived = time.time()
        with self._lock:
            self.attempts += 1
            accepted = not (self.always_fail or self.attempts <= self.fail_first)
            if accepted:
                self.raw.append(raw)
                self.bodies.append(json.loads(raw))
                self.headers.append(dict(request.headers))
                self.paths.append(request.path)
                self.answer_times.append(arrived)
        reply(request, 200 if accepted else 500)

    @property
    def only(self) -> dict[str, Any]:
        """The single answer; fails the test if there were none or several."""
        assert len(self.bodies) == 1, f"expected exactly one answer, got {len(self.bodies)}: {self.bodies}"
        return self.bodies[0]


# --- starting jobs (StartModelPackagingJob) and Greengrass ----------------------------------------------------------


def packaged(request: Mapping[str, Any], status: str = "SUCCEEDED") -> dict[str, Any]:
    """The description of a job started with the StartModelPackagingJob ``request`` (as the API received it)."""
    greengrass = request["Configuration"]["Greengrass"]
    version = greengrass.get("ComponentVersion") or f"{request['ModelVersion']}.0.0"
    desc = description(
        status,
        project=request["ProjectName"],
        job=request["JobName"],
        component_name=greengrass["ComponentName"],
        component_version=version,
    )
    desc["ModelVersion"] = request["ModelVersion"]
    desc["ModelPackagingConfiguration"] = {"Greengrass": dict(greengrass)}
    return desc


def component_arn(name: str, version: str) -> str:
    return f"arn:aws:greengrass:us-east-1:123456789012:components:{name}:versions:{version}"


class FakeGreengrass(LoopbackServer):
    """Plays Greengrass V2 DescribeComponent on 127.0.0.1: ``script(arn, states)`` answers each request with the next
    componentState (or Step), the last one repeating; a version nobody scripted is the service's 404, or ``default``
    when one is given."""

    def __init__(self, default: str | None = None) -> None:
        super().__init__()
        self.default = default
        self.scripts: dict[str, list[str | Step]] = {}
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def script(self, arn: str, states: Iterable[str | Step]) -> None:
        with self._lock:
            self.scripts[arn] = list(states)

    def calls(self, arn: str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if arn is None or r["arn"] == arn)

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        path = request.path.split("?")[0]
        prefix, suffix = "/greengrass/v2/components/", "/metadata"
        if not (path.startswith(prefix) and path.endswith(suffix)):
            reply(request, 404, b"{}", _json_headers({"x-amzn-ErrorType": "UnknownOperationException"}))
            return
        arn = unquote(path[len(prefix) : -len(suffix)])
        with self._lock:
            self.requests.append({"arn": arn, "at": time.monotonic(), "headers": dict(request.headers)})
            script = self.scripts.get(arn)
            step = self.default if script is None else (script.pop(0) if len(script) > 1 else script[0])
        if step is None:
            step = error(404, NOT_FOUND, f"Component version {arn} not found")
        if isinstance(step, Step):
            body = json.dumps({"message": step.message, **step.extra}).encode()
            reply(request, step.status, body, _json_headers({"x-amzn-ErrorType": step.error_type, **step.headers}))
            return
        state, _, message = step.partition(":")
        name, version = arn.split(":components:", 1)[1].split(":versions:")
        status = {
            "componentState": state,
            "message": message or "NONE",
            "errors": {"recipe": message} if message else {},
        }
        body = {"arn": arn, "componentName": name, "componentVersion": version, "status": status}
        reply(request, 200, json.dumps(body).encode(), _json_headers())


# --- scripted Lookout for Vision client (appended for the unit tests of packaging_job and step) --------------------

# A step: a description, an exception to raise, or a callable given the virtual time that returns a description.
ScriptStep = Any


class ScriptedClient:
    """Answers describe_model_packaging_job from a script of ScriptSteps on a VirtualClock; the last step repeats (a
    callable step is how a job changes status at a given moment)."""

    def __init__(self, vclock: VirtualClock, steps: list[ScriptStep]) -> None:
        self.vclock = vclock
        self.steps = list(steps)
        self.calls: list[float] = []
        self.params: list[dict[str, str]] = []

    def describe_model_packaging_job(self, **params: str) -> dict[str, Any]:
        self.calls.append(self.vclock.now())
        self.params.append(params)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, BaseException):
            raise step
        desc = step(self.vclock.now()) if callable(step) else step
        return {"ModelPackagingDescription": desc}


def client_error(code: str, status: int, message: str = "something went wrong", **response: Any) -> Any:
    """The ClientError botocore raises for a DescribeModelPackagingJob answered ``status`` with ``code``; ``response``
    adds top-level fields (a modeled ResourceType) or, as HTTPHeaders, headers."""
    from botocore.exceptions import ClientError

    headers = response.pop("HTTPHeaders", {})
    body: dict[str, Any] = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers},
        **response,
    }
    return ClientError(body, "DescribeModelPackagingJob")


def answered_with(client_error: Any) -> Step:
    """The FakeLookoutVision step whose answer botocore raises as ``client_error`` (its status, code and message)."""
    response = client_error.response
    return error(
        response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]
    )
