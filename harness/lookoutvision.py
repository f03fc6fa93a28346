"""The Lookout for Vision end: job descriptions as the API returns them, a fake API that answers from a script, and the
fake Greengrass that describes the component versions a job packages. Each fake serves 127.0.0.1 when run as a context
manager, and one of the product's own clients in memory through ``client()``."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

from cdk_lookoutvision_packaging_handler.contract import GREENGRASS_SERVICE, LOOKOUTVISION_SERVICE
from harness.loopback import LoopbackServer, read_body, reply

COMPONENT = "com.example.pcb-defects"
NOT_FOUND = "ResourceNotFoundException"


def component_arn(name: str = COMPONENT, version: str = "1.0.0") -> str:
    return f"arn:aws:greengrass:us-east-1:123456789012:components:{name}:versions:{version}"


COMPONENT_ARN = component_arn()


def packaging(model_version: str = "3", **greengrass: Any) -> dict[str, Any]:
    """The one packaging configuration of the tests: a resource's Packaging property, a Start request's ModelVersion
    and Configuration, the CLI's start; ``greengrass`` changes its Greengrass keys (None leaves one out)."""
    config = {
        "ComponentName": COMPONENT,
        "ComponentVersion": "3.0.0",
        "TargetDevice": "jetson_xavier",
        "S3OutputLocation": {"Bucket": "pcb-lookoutvision-models", "Prefix": "lookoutvision/pcb/"},
        **greengrass,
    }
    greengrass = {key: value for key, value in config.items() if value is not None}
    return {"ModelVersion": model_version, "Configuration": {"Greengrass": greengrass}}


def description(
    status: str = "SUCCEEDED",
    project: str = "pcb",
    job: str = "pcb-v3-x86",
    status_message: str | None = None,
    component_name: str = COMPONENT,
    component_version: str = "1.0.0",
    with_output: bool = True,
) -> dict[str, Any]:
    """A ModelPackagingDescription as the API returns it (timestamps as datetimes, as botocore parses them); a
    SUCCEEDED job has its output unless ``with_output`` is false."""
    configuration = packaging(ComponentName=component_name, ComponentVersion=component_version)
    output = {
        "ComponentVersionArn": component_arn(component_name, component_version),
        "ComponentName": component_name,
        "ComponentVersion": component_version,
    }
    desc = {
        "JobName": job,
        "ProjectName": project,
        "ModelVersion": configuration["ModelVersion"],
        "ModelPackagingConfiguration": configuration["Configuration"],
        "ModelPackagingMethod": "Greengrass",
        "Status": status,
        "StatusMessage": status_message,
        "CreationTimestamp": datetime(2026, 11, 29, 15, 0, 0, tzinfo=UTC),
        "LastUpdatedTimestamp": datetime(2026, 11, 29, 15, 4, 30, tzinfo=UTC),
        "ModelPackagingOutputDetails": {"Greengrass": output} if status == "SUCCEEDED" and with_output else None,
    }
    return {key: value for key, value in desc.items() if value is not None}


def packaged(request: Mapping[str, Any], status: str = "SUCCEEDED") -> dict[str, Any]:
    """The description of a job started with the StartModelPackagingJob ``request`` (as the API received it)."""
    greengrass = request["Configuration"]["Greengrass"]
    version = greengrass.get("ComponentVersion") or f"{request['ModelVersion']}.0.0"
    desc = description(status, request["ProjectName"], request["JobName"], None, greengrass["ComponentName"], version)
    return {**desc, "ModelVersion": request["ModelVersion"], "ModelPackagingConfiguration": {"Greengrass": greengrass}}


def next_step(script: list[Any]) -> Any:
    """A script's next step: each is taken in turn, and the last one repeats."""
    return script.pop(0) if len(script) > 1 else script[0]


def taken(step: Any) -> Any:
    """A step as it answers now: a callable is asked for it (one that blocks plays a call that hangs), and an
    exception is raised (in memory, as the client's own)."""
    step = step() if callable(step) else step
    if isinstance(step, BaseException):
        raise step
    return step


@dataclass(frozen=True)
class Step:
    """One scripted answer of a fake API: ``send`` writes it to the request."""

    send: Callable[[BaseHTTPRequestHandler], None]


def answer(status: int, body: Any, headers: Mapping[str, str] = {}) -> Step:
    """A JSON answer, headed as AWS heads one."""
    data = json.dumps(body).encode()
    head = {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4()), **headers}
    return Step(lambda request: reply(request, status, data, head))


def ok(desc: dict[str, Any]) -> Step:
    wire = {k: v.timestamp() if isinstance(v, datetime) else v for k, v in desc.items()}
    return answer(200, {"ModelPackagingDescription": wire})


def error(status: int, error_type: str, message: str = "", headers: Mapping[str, str] = {}, **extra: Any) -> Step:
    return answer(status, {"message": message or error_type, **extra}, {"x-amzn-ErrorType": error_type, **headers})


class FakeLookoutVision(LoopbackServer):
    """Plays DescribeModelPackagingJob (and StartModelPackagingJob, see ``_start``) on 127.0.0.1, the way the service
    answers; unknown projects and jobs get its 404. ``script(project, job, steps)``: each request takes the next step
    (or what a callable step returns when asked), and the last one repeats. Each Describe is recorded in
    ``requests`` with its project and job."""

    service, keys = LOOKOUTVISION_SERVICE, ("project", "job")

    def __init__(self) -> None:
        super().__init__()
        self.scripts: dict[tuple[str, str], list[Step | Callable[[], Step]]] = {}
        self.projects: set[str] = set()
        # StartModelPackagingJob: every request, the token each job was started with, the refusal a Start answers
        # given its request (None lets it through), and the script a started job then answers Describe with.
        self.starts: list[dict[str, Any]] = []
        self.started: dict[tuple[str, str], str] = {}
        self.refuse_start: Callable[[dict[str, Any]], Step | BaseException | None] = lambda request: None
        self.after_start: Callable[[dict[str, Any]], list[Step]] = lambda request: [
            ok(packaged(request, status)) for status in ("CREATED", "SUCCEEDED")
        ]

    def script(self, project: str, job: str, steps: Iterable[Step | Callable[[], Step]]) -> None:
        with self._lock:
            self.projects.add(project)
            self.scripts[(project, job)] = list(steps)

    def _describe(self, request: BaseHTTPRequestHandler, project: str, job: str) -> Any:
        with self._lock:
            self._record(request, project=project, job=job)
            script = self.scripts.get((project, job))
            if script is None and project not in self.projects:
                return error(404, NOT_FOUND, f"Project {project} not found", ResourceId=project, ResourceType="PROJECT")
            if script is None:
                return error(404, NOT_FOUND, f"Job {job} not found", ResourceId=job, ResourceType="MODEL_PACKAGE_JOB")
            step = next_step(script)
        return taken(step)

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        parts = [unquote(part) for part in request.path.split("?")[0].strip("/").split("/")]
        route = (request.command, len(parts)) if parts[:2] == ["2020-11-20", "projects"] else ("", 0)
        if route == ("POST", 4) and parts[3] == "modelpackagingjobs":
            self._start(request, parts[2]).send(request)
        elif route == ("GET", 5) and parts[3] == "modelpackagingjobs":
            self._describe(request, parts[2], parts[4]).send(request)
        else:
            error(404, "UnknownOperationException", f"no route {request.path}").send(request)

    def _start(self, request: BaseHTTPRequestHandler, project: str) -> Step:
        """StartModelPackagingJob, idempotent on its client token: the same token starts nothing new; another token
        for a job that exists (started or scripted) is the service's 409 ConflictException."""
        body = {**json.loads(read_body(request) or b"{}"), "ProjectName": project}
        job, token = str(body.get("JobName") or uuid.uuid4().hex[:12]), request.headers.get("X-Amzn-Client-Token", "")
        with self._lock:
            self.starts.append({"project": project, "job": job, "token": token, "body": body})
            refusal = self.refuse_start(body)
            previous = self.started.get((project, job))
            if refusal is None and previous != token and (previous is not None or (project, job) in self.scripts):
                refusal = error(409, "ConflictException", f"A model packaging job named {job} already exists")
            if refusal is None and previous is None:
                self.started[(project, job)] = token
                self.projects.add(project)
                self.scripts[(project, job)] = list(self.after_start(body))
        return taken(refusal) or answer(200, {"JobName": job})


class FakeGreengrass(LoopbackServer):
    """Plays Greengrass V2 DescribeComponent, recording each request's ``arn``: ``script(arn, states)`` answers each
    request with the next componentState (or Step), the last one repeating; an unscripted version gets ``default``, or
    else the 404."""

    service, keys = GREENGRASS_SERVICE, ("arn",)

    def __init__(self, default: str | None = None) -> None:
        super().__init__()
        self.default = default
        self.scripts: dict[str, list[Any]] = {}

    def script(self, arn: str, states: Iterable[Any]) -> None:
        with self._lock:
            self.scripts[arn] = list(states)

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        path, prefix, suffix = request.path.split("?")[0], "/greengrass/v2/components/", "/metadata"
        arn = unquote(path.removeprefix(prefix).removesuffix(suffix))
        step: Any = error(404, "UnknownOperationException", f"no route {path}")
        if path.startswith(prefix) and path.endswith(suffix):
            with self._lock:
                self._record(request, arn=arn)
                script = self.scripts.get(arn)
                step = self.default if script is None else next_step(script)
        if isinstance(step := taken(step), str):
            state, _, message = step.partition(":")
            name, version = arn.split(":components:", 1)[1].split(":versions:")
            errors = {"recipe": message} if message else {}
            status = {"componentState": state, "message": message or "NONE", "errors": errors}
            step = answer(200, {"arn": arn, "componentName": name, "componentVersion": version, "status": status})
        (step or error(404, NOT_FOUND, f"Component version {arn} not found")).send(request)
