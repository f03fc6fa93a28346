"""A Lookout for Vision model packaging job: describe it, read its attributes, wait for it, and say why (for the
handler, the CLI and the benchmark alike)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal

from . import waiting
from .contract import DATA_KEYS, DESCRIBE_JOB_ACTION, OUTPUT_KEYS, START_JOB_ACTION
from .outbound import (
    CONSTRUCT_WORDING,
    ApiProblem,
    Call,
    MalformedResponseError,
    Wording,
    bounded_call,
    classify,
    one_line,
)

# How long a job that a Start created (or that a Conflict says exists) may stay invisible to an eventually
# consistent Describe.
VISIBILITY_GRACE_S = 60.0

Phase = Literal["waiting", "succeeded", "failed", "unknown"]
_PHASES: dict[str, Phase] = {"CREATED": "waiting", "RUNNING": "waiting", "SUCCEEDED": "succeeded", "FAILED": "failed"}


def classify_status(status: str | None) -> Phase:
    return _PHASES.get(status or "", "unknown")


# Per call about one job: how an error sentence starts, and the gerund and grant an access denial advises.
_JOB_CALLS = {
    "DescribeModelPackagingJob": (
        "Cannot describe",
        "describing",
        f'{DESCRIBE_JOB_ACTION} on Resource "*" to the caller, and check SCPs and permission boundaries',
    ),
    "StartModelPackagingJob": ("Could not start", "starting", f"{START_JOB_ACTION} on the model"),
}


def job_call(
    operation: str, project_name: str, job_name: str, region: str = "", wording: Wording = CONSTRUCT_WORDING
) -> Call:
    failure, gerund, grant = _JOB_CALLS[operation]
    job, where = f"{project_name}/{job_name}", f" in {region}" if region else ""
    denied = f"Access denied {gerund} model packaging job {job}{where}: grant {grant}"
    return Call(operation, job, f"{failure} model packaging job {job}{where}", denied, wording=wording, region=region)


def describe_call(project_name: str, job_name: str, region: str = "", wording: Wording = CONSTRUCT_WORDING) -> Call:
    return job_call("DescribeModelPackagingJob", project_name, job_name, region, wording)


def describe(client: Any, project_name: str, job_name: str, timeout_s: float) -> dict[str, Any]:
    """The job's ModelPackagingDescription; the call is bounded as a whole by ``timeout_s``."""
    call = partial(client.describe_model_packaging_job, ProjectName=project_name, JobName=job_name)
    response = bounded_call(call, timeout_s, "DescribeModelPackagingJob")
    description = response.get("ModelPackagingDescription")
    if not isinstance(description, dict):
        raise MalformedResponseError("DescribeModelPackagingJob returned no ModelPackagingDescription")
    return description


def explain(problem: ApiProblem, call: Call, project_name: str, job_name: str) -> ApiProblem:
    """A Describe problem in the job's own words when the project or the job is missing or the request rejected."""
    job, said, w = f"{project_name}/{job_name}", problem.said, call.wording
    where = f" in {call.region}" if call.region else ""
    if problem.kind == "not_found":
        texts = {
            "PROJECT": f"Lookout for Vision project '{project_name}' does not exist{where}: check {w.project_name}",
            "MODEL_PACKAGE_JOB": f"Model packaging job '{job_name}' does not exist in project '{project_name}'{where}: "
            f"check {w.job_name} (ListModelPackagingJobs lists the project's jobs)",
        }
        unknown = f"Model packaging job {job} was not found{where}: check {w.project_name}, {w.job_name} and {w.region}"
        text = texts.get(problem.resource_type, unknown)
        return replace(problem, message=f"{text} ({said})" if said else text)
    if problem.kind == "invalid" and problem.status:
        text = (
            f"Lookout for Vision rejected the request for {job}: {said}. "
            f"Check {w.project_name} and {w.job_name} against the naming rules"
        )
        return replace(problem, message=text)
    return problem


def job_missing(problem: ApiProblem) -> bool:
    """Whether a Describe said the job does not exist (and not that the project does not)."""
    return problem.kind == "not_found" and problem.resource_type != "PROJECT"


def _iso_utc(value: Any) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return str(value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return "" if value is None else str(value)


def to_attributes(description: Mapping[str, Any], project_name: str = "", job_name: str = "") -> dict[str, str]:
    """Flatten a ModelPackagingDescription to the documented keys; every key present, "" where there is no value."""
    output = (description.get("ModelPackagingOutputDetails") or {}).get("Greengrass") or {}
    output = output if isinstance(output, dict) else {}
    values: dict[str, Any] = {
        "ComponentVersionArn": output.get("ComponentVersionArn"),
        "ComponentName": output.get("ComponentName"),
        "ComponentVersion": output.get("ComponentVersion"),
        "Status": description.get("Status"),
        "StatusMessage": description.get("StatusMessage"),
        "ModelVersion": description.get("ModelVersion"),
        "ProjectName": description.get("ProjectName") or project_name,
        "JobName": description.get("JobName") or job_name,
        "CreationTimestamp": _iso_utc(description.get("CreationTimestamp")),
        "LastUpdatedTimestamp": _iso_utc(description.get("LastUpdatedTimestamp")),
    }
    return {key: "" if values[key] is None else str(values[key]) for key in DATA_KEYS}


def has_greengrass_output(attributes: Mapping[str, str]) -> bool:
    """Whether a job's attributes name the component it produced: a SUCCEEDED job without it fails the gate."""
    return all(attributes.get(key) for key in OUTPUT_KEYS)


def failed_reason(project_name: str, job_name: str, status_message: str, *, adopted: bool = False) -> str:
    message = one_line(status_message or "") or "(no StatusMessage)"
    if not adopted:
        return f"Model packaging job {project_name}/{job_name} FAILED: {message}"
    return (
        f"Model packaging job {project_name}/{job_name} already existed with this configuration and was adopted; "
        f"it FAILED earlier: {message}. A packaging job never runs twice: to package again, give a new "
        "component_version (the default job name follows it) or a new job_name"
    )


def timeout_reason(
    what: str, last: str, waited_s: float, last_error: str = "", *, remedy: str, waited: str | None = None
) -> str:
    """Why a wait for ``what`` ended at its deadline; ``waited`` replaces the minutes waited (the CLI says more)."""
    text = f"Timed out after {waited or f'{waited_s / 60.0:.1f} minutes'} waiting for {what}; {last}"
    if last_error:
        text += f"; last error {last_error}"
    return f"{text}. {remedy}"


def no_output_reason(project_name: str, job_name: str) -> str:
    return (
        f"Model packaging job {project_name}/{job_name} SUCCEEDED but reported no Greengrass output details "
        "(ModelPackagingOutputDetails.Greengrass.ComponentVersionArn is missing); only Greengrass packaging "
        "jobs can be gated"
    )


def wait_for_job(
    client: Any,
    call: Call,
    project_name: str,
    job_name: str,
    schedule: waiting.Schedule,
    *,
    wait: bool = True,
    visible_by: float | None = None,
    on_status: Callable[[str, dict[str, Any]], None] | None = None,
) -> waiting.Waited:
    """Describe the job until it is terminal, or once when ``wait`` is False (``not_ready`` while CREATED or
    RUNNING; else ``succeeded``, ``failed`` or ``waiting.wait``'s ends). A job that was just started counts as not
    visible yet, rather than missing, until ``visible_by``."""
    seen: dict[str, Any] = {"description": None, "status": ""}

    def look(timeout_s: float) -> bool:
        try:
            description = describe(client, project_name, job_name, timeout_s)
        except Exception as error:
            if visible_by is None or schedule.clock.now() >= visible_by or not job_missing(classify(error, call)):
                raise
            return False
        status = str(description.get("Status") or "")
        if (status != seen["status"] or seen["description"] is None) and on_status is not None:
            on_status(status, description)
        seen.update(description=description, status=status)
        return classify_status(status) != "waiting" or not wait

    waited = replace(waiting.wait(look, call, schedule), status=seen["status"], description=seen["description"])
    job = f"{project_name}/{job_name}"
    problem = explain(waited.problem, call, project_name, job_name) if waited.problem else None
    if problem is not None and visible_by is not None and job_missing(problem):
        problem = replace(
            problem,
            message=f"Model packaging job {job} was started but is not visible to DescribeModelPackagingJob after "
            f"{VISIBILITY_GRACE_S:.0f} s: rerun the deployment, which adopts the job once Lookout for Vision shows it",
        )
    if waited.outcome != "done":
        return replace(waited, problem=problem)
    phase = classify_status(waited.status)
    if phase in ("succeeded", "failed"):
        return replace(waited, outcome=phase)
    if not wait:
        return replace(waited, outcome="not_ready")
    reason = f"Model packaging job {job} reported an unknown status {waited.status!r}"
    return replace(waited, outcome="error", problem=ApiProblem("refused", "UnknownStatus", reason))
