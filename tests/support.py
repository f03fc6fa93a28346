"""Test doubles that speak the real wire: a loopback Lookout for Vision API, a loopback CloudFormation response URL,
a Lambda context with a real deadline, and CloudFormation event factories."""

from __future__ import annotations

import json
import random
import socket
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from model_packaging_job.contract import RESOURCE_TYPE


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
        from model_packaging_job import packaging_job as pj

        return pj.Clock(now=self.now, sleep=self.sleep, rng=random.Random(seed))


# What CloudFormation must receive, written out here once as the tests' own expectation (not read from the product).
EXPECTED_BODY_KEYS = frozenset(
    {"Status", "Reason", "PhysicalResourceId", "StackId", "RequestId", "LogicalResourceId", "NoEcho", "Data"}
)
EXPECTED_DATA_KEYS = frozenset(
    {
        "ComponentVersionArn",
        "ComponentName",
        "ComponentVersion",
        "Status",
        "StatusMessage",
        "ModelVersion",
        "ProjectName",
        "JobName",
        "CreationTimestamp",
        "LastUpdatedTimestamp",
    }
)

STACK_ID = (
    "arn:aws:cloudformation:us-east-1:123456789012:stack/LookoutVisionModelGate/5b9cbb90-1a2b-11ef-9c4d-0a1b2c3d4e5f"
)
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:LookoutVisionModelGate-Handler-AbCdEf123456"
COMPONENT_ARN = "arn:aws:greengrass:us-east-1:123456789012:components:com.example.pcb-defects:versions:1.0.0"


# --- Lambda context ------------------------------------------------------------------------------------------------


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


# --- CloudFormation events -----------------------------------------------------------------------------------------


def properties(project: str = "pcb", job: str = "pcb-v3-x86", **extra: Any) -> dict[str, Any]:
    props: dict[str, Any] = {"ServiceToken": FUNCTION_ARN, "ProjectName": project, "JobName": job}
    props.update(extra)
    return props


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


# --- job descriptions ----------------------------------------------------------------------------------------------


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
        desc["ModelPackagingOutputDetails"] = {
            "Greengrass": {
                "ComponentVersionArn": COMPONENT_ARN.replace("com.example.pcb-defects", component_name).replace(
                    "1.0.0", component_version
                ),
                "ComponentName": component_name,
                "ComponentVersion": component_version,
            }
        }
    return desc


def _wire(desc: dict[str, Any]) -> dict[str, Any]:
    out = dict(desc)
    for key in ("CreationTimestamp", "LastUpdatedTimestamp"):
        if isinstance(out.get(key), datetime):
            out[key] = out[key].timestamp()
    return out


# --- loopback Lookout for Vision -----------------------------------------------------------------------------------


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


def ok(desc: dict[str, Any]) -> Step:
    return Step("describe", body=desc)


def error(status: int, error_type: str, message: str = "", headers: dict[str, str] | None = None, **extra: Any) -> Step:
    return Step(
        "error", status=status, error_type=error_type, message=message or error_type, headers=headers or {}, extra=extra
    )


def reset() -> Step:
    return Step("reset")


def slow(delay_s: float, then: Step) -> Step:
    return Step("slow", delay_s=delay_s, body={"then": then})


def malformed() -> Step:
    return Step("malformed")


def trickle(every_s: float, then: Step) -> Step:
    """Answer ``then`` one byte every ``every_s`` seconds: each read is quicker than a read timeout, the call is not."""
    return Step("trickle", delay_s=every_s, body={"then": then})


class FakeLookoutVision:
    """Plays DescribeModelPackagingJob on 127.0.0.1. Each job has a script of Steps; every request takes the next
    step, and the last one repeats. Unknown projects and jobs answer 404 like the service."""

    def __init__(self) -> None:
        self.scripts: dict[tuple[str, str], list[Step]] = {}
        self.projects: set[str] = set()
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> FakeLookoutVision:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def script(self, project: str, job: str, steps: Iterable[Step]) -> None:
        with self._lock:
            self.projects.add(project)
            self.scripts[(project, job)] = list(steps)

    def calls(self, project: str | None = None, job: str | None = None) -> int:
        with self._lock:
            return sum(
                1
                for r in self.requests
                if (project is None or r["project"] == project) and (job is None or r["job"] == job)
            )

    def _next(self, project: str, job: str, path: str = "", headers: dict[str, str] | None = None) -> Step:
        with self._lock:
            self.requests.append(
                {"project": project, "job": job, "at": time.monotonic(), "path": path, "headers": headers or {}}
            )
            return self._scripted(project, job)

    def _scripted(self, project: str, job: str) -> Step:
        """The next step of the job's script, or the service's 404 for an unknown project or job. Hold the lock."""
        script = self.scripts.get((project, job))
        if script is not None:
            return script.pop(0) if len(script) > 1 else script[0]
        if project not in self.projects:
            return error(
                404,
                "ResourceNotFoundException",
                f"Project {project} not found",
                ResourceId=project,
                ResourceType="PROJECT",
            )
        return error(
            404, "ResourceNotFoundException", f"Job {job} not found", ResourceId=job, ResourceType="MODEL_PACKAGE_JOB"
        )

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        parts = request.path.split("?")[0].strip("/").split("/")
        if len(parts) != 5 or parts[0] != "2020-11-20" or parts[1] != "projects" or parts[3] != "modelpackagingjobs":
            self._send(
                request, 404, {"message": f"no route {request.path}"}, {"x-amzn-ErrorType": "UnknownOperationException"}
            )
            return
        step = self._next(unquote(parts[2]), unquote(parts[4]), request.path, dict(request.headers))
        self._play(request, step)

    def _play(self, request: BaseHTTPRequestHandler, step: Step) -> None:
        if step.kind == "slow":
            time.sleep(step.delay_s)
            self._play(request, step.body["then"] if step.body else ok(description()))
            return
        if step.kind == "trickle":
            then = step.body["then"] if step.body else ok(description())
            raw = json.dumps({"ModelPackagingDescription": _wire(then.body or {})}).encode()
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
            return
        if step.kind == "reset":
            sock = request.connection
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            sock.close()
            request.close_connection = True
            return
        if step.kind == "malformed":
            raw = b'{"ModelPackagingDescription": {"Status": "SUCC'
            request.send_response(200)
            request.send_header("Content-Type", "application/json")
            request.send_header("Content-Length", str(len(raw)))
            request.end_headers()
            request.wfile.write(raw)
            return
        if step.kind == "error":
            body = {"message": step.message, **step.extra}
            self._send(request, step.status, body, {"x-amzn-ErrorType": step.error_type, **step.headers})
            return
        self._send(request, 200, {"ModelPackagingDescription": _wire(step.body or {})}, {})

    @staticmethod
    def _send(request: BaseHTTPRequestHandler, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        raw = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for key, value in headers.items():
            request.send_header(key, value)
        request.send_header("Content-Length", str(len(raw)))
        request.end_headers()
        request.wfile.write(raw)


# --- loopback CloudFormation response URL --------------------------------------------------------------------------


class ResponseRecorder:
    """Records the PUTs a handler sends to its ResponseURL. ``fail_first`` answers 500 that many times first;
    ``always_fail`` never accepts."""

    def __init__(self, fail_first: int = 0, always_fail: bool = False) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.raw: list[bytes] = []
        self.attempts = 0
        self.headers: list[dict[str, str]] = []
        self.paths: list[str] = []
        self.fail_first = fail_first
        self.always_fail = always_fail
        self._lock = threading.Lock()
        self.received = threading.Event()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_PUT(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                with recorder._lock:
                    recorder.attempts += 1
                    failing = recorder.always_fail or recorder.attempts <= recorder.fail_first
                    if not failing:
                        recorder.raw.append(raw)
                        recorder.bodies.append(json.loads(raw))
                        recorder.headers.append(dict(self.headers))
                        recorder.paths.append(self.path)
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if not failing:
                    recorder.received.set()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        port = self.server.server_address[1]
        # Shaped like a presigned S3 URL, so that log-hygiene checks have something real to look for.
        self.url = (
            f"http://127.0.0.1:{port}/cloudformation-custom-resource-response-useast1/"
            "arn%3Aaws%3Acloudformation%3Aus-east-1%3A123456789012%3Astack/LookoutVisionModelGate/x%7CJob%7Cid"
            "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261129T160000Z&X-Amz-SignedHeaders=host"
            "&X-Amz-Expires=7200&X-Amz-Credential=AKIAEXAMPLE%2F20261129%2Fus-east-1%2Fs3%2Faws4_request"
            "&X-Amz-Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        )
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> ResponseRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def only(self) -> dict[str, Any]:
        """The single answer; fails the test if there were none or several."""
        assert len(self.bodies) == 1, f"expected exactly one answer, got {len(self.bodies)}: {self.bodies}"
        return self.bodies[0]


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
