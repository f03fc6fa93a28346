"""The Lookout for Vision end: job descriptions as the API returns them, and a loopback API that answers from a
script."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

from harness.loopback import LoopbackServer, json_headers, read_body, reply

COMPONENT_ARN = "arn:aws:greengrass:us-east-1:123456789012:components:com.example.pcb-defects:versions:1.0.0"


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


@dataclass
class Step:
    """One scripted answer of the fake API. ``kind``: describe | error | reset | slow | malformed."""

    kind: str
    body: dict[str, Any] | None = None
    status: int = 200
    error_type: str = ""
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    then: Step | None = None  # what a slow answer finally says


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


def answer_step(request: BaseHTTPRequestHandler, step: Step) -> None:
    """Answer ``request`` as ``step`` says (the loopback Greengrass answers its errors with it too)."""
    then = step.then or ok(description())
    if step.kind == "slow":
        time.sleep(step.delay_s)
        answer_step(request, then)
    elif step.kind == "reset":
        request.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        request.connection.close()
        request.close_connection = True
    elif step.kind == "malformed":
        reply(request, 200, b'{"ModelPackagingDescription": {"Status": "SUCC', {"Content-Type": "application/json"})
    elif step.kind == "error":
        body = json.dumps({"message": step.message, **step.extra}).encode()
        reply(request, step.status, body, json_headers({"x-amzn-ErrorType": step.error_type, **step.headers}))
    else:
        reply(request, 200, _wire(step.body or {}), json_headers())


NOT_FOUND = "ResourceNotFoundException"


class FakeLookoutVision(LoopbackServer):
    """Plays DescribeModelPackagingJob (and StartModelPackagingJob, see ``_start``) on 127.0.0.1, the way the service
    answers; unknown projects and jobs get its 404. A job answers from one of:

    - ``script(project, job, steps)``: every request takes the next step, and the last one repeats;
    - ``play(project, job, timeline)``: a request at virtual second ``v`` gets the step of the last timeline entry
      starting at or before ``v``, on a clock of ``time_scale`` virtual seconds per real second (with 120,
      "SUCCEEDED after 20 minutes" happens 10 s in) from ``play``.

    Every request is recorded with its time, path, headers and the Status it was answered.
    """

    methods = ("GET", "POST")

    def __init__(self, *, time_scale: float = 60.0) -> None:
        super().__init__()
        self.scripts: dict[tuple[str, str], list[Step]] = {}
        self.projects: set[str] = set()
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.time_scale = time_scale
        self._timelines: dict[tuple[str, str], tuple[float, list[tuple[float, Step]]]] = {}
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

    def play(self, project: str, job: str, timeline: Sequence[tuple[float, Step]]) -> None:
        steps = sorted(timeline, key=lambda entry: entry[0])
        if steps and steps[0][0] > 0:
            raise ValueError("a timeline must say what the job looks like from virtual second 0")
        with self._lock:
            self.projects.add(project)
            self._timelines[(project, job)] = (time.monotonic(), steps)

    def request_log(self, project: str | None = None, job: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [
                dict(r)
                for r in self.requests
                if (project is None or r["project"] == project) and (job is None or r["job"] == job)
            ]

    def calls(self, project: str | None = None, job: str | None = None) -> int:
        return len(self.request_log(project, job))

    def _next(self, project: str, job: str, path: str, headers: dict[str, str]) -> Step:
        now = time.monotonic()
        with self._lock:
            self.requests.append({"project": project, "job": job, "at": now, "path": path, "headers": headers})
            step = self._step(project, job, now)
            if step.kind == "describe" and step.body:
                self.requests[-1]["status"] = step.body.get("Status")
            return step

    def _step(self, project: str, job: str, now: float) -> Step:
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
            reply(request, 404, body, json_headers({"x-amzn-ErrorType": "UnknownOperationException"}))
            return
        answer_step(request, self._next(unquote(parts[2]), unquote(parts[4]), request.path, dict(request.headers)))

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
            answer_step(request, refusal)
        else:
            reply(request, 200, json.dumps({"JobName": job}).encode(), json_headers())
