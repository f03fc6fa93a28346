"""Start a model packaging job, or adopt the one that exists (for the handler and the CLI's ``start`` alike).

The client token derives from the project, the job name and the configuration, so a repeated or continued request
never starts a second job. An existing job with another configuration is refused, naming what differs: a packaging
job cannot change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Literal

from . import job as jobs
from . import waiting
from .configuration import Packaging
from .contract import CREATE_COMPONENT_ACTION, DESCRIBE_COMPONENT_ACTION, START_JOB_ACTION
from .outbound import CONSTRUCT_WORDING, ApiProblem, Wording, bounded_call, retrying


@dataclass(frozen=True)
class Started:
    """``started``, ``adopted`` or ``refused``; ``temporary`` when only failures until time ran out refused it."""

    outcome: Literal["started", "adopted", "refused"]
    reason: str = ""
    temporary: bool = False


def ensure_job(
    client: Any,
    project_name: str,
    job_name: str,
    packaging: Packaging,
    schedule: waiting.Schedule,
    *,
    region: str = "",
    wording: Wording = CONSTRUCT_WORDING,
) -> Started:
    """Adopt the job when it exists with this configuration, start it when it does not; retry until the schedule's
    deadline."""
    job = f"{project_name}/{job_name}"
    names = (project_name, job_name)
    describing = jobs.describe_call(*names, region, wording)

    def look(visible_by: float | None = None) -> waiting.Waited:
        until = schedule.deadline if visible_by is None else min(schedule.deadline, visible_by)
        looking = replace(schedule, deadline=until)
        return jobs.wait_for_job(client, describing, *names, looking, wait=False, visible_by=visible_by)

    found = look()
    if found.description is not None:
        return _adopt(found.description, packaging, job, wording)
    if found.problem is None:
        reason = f"{describing.failure}: Lookout for Vision kept answering {found.last_error} until the time ran out"
        return Started("refused", f"{reason}; rerun the deployment later", temporary=True)
    if not jobs.job_missing(found.problem):
        return Started("refused", found.problem.message)
    starting = jobs.job_call("StartModelPackagingJob", project_name, job_name, region, wording)
    request = packaging.start_request(project_name, job_name)

    def start(timeout_s: float) -> Any:
        return bounded_call(partial(client.start_model_packaging_job, **request), timeout_s, starting.operation)

    clock, on_retry = schedule.clock, schedule.on_retry
    started = retrying(start, starting, clock=clock, give_up_at=schedule.deadline, on_retry=on_retry)
    problem = started.problem
    if problem is None:
        return Started("started")  # the wait gives it jobs.VISIBILITY_GRACE_S to show
    if problem.kind != "conflict":
        reason = refusal_reason(problem, job, packaging, wording, gave_up=started.gave_up)
        return Started("refused", reason, temporary=started.gave_up)
    # A duplicate request started the job meanwhile, or the component version exists: look until the job shows.
    seen = look(clock.now() + jobs.VISIBILITY_GRACE_S)
    if seen.description is None:
        return Started("refused", refusal_reason(problem, job, packaging, wording))
    return _adopt(seen.description, packaging, job, wording)


def _adopt(description: Mapping[str, Any], packaging: Packaging, job: str, wording: Wording) -> Started:
    differences = packaging.differences(description)
    if not differences:
        return Started("adopted")
    # A new job name with the same component version would only conflict again: that version exists already.
    versioned = any(d.startswith("ComponentVersion ") for d in differences)
    new = wording.job_name if versioned else f"{wording.component_version} (the default job name follows it)"
    return Started(
        "refused",
        f"Model packaging job {job} already exists with another configuration: {'; '.join(differences)}. A "
        f"packaging job cannot change: give this configuration a new {new}",
    )


_ADVICE: dict[str, Callable[[Packaging, Wording], str]] = {
    "ConflictException": lambda p, w: (
        f"Greengrass component {p.component_name} version {p.component_version or '(the service default)'} "
        f"probably exists already: give the configuration a new {w.component_version}"
    ),
    "ResourceNotFoundException": lambda p, w: (
        f"model version {p.model_version} of the project does not exist: check model_version and {w.project_name}"
    ),
    "ValidationException": lambda p, w: "check that the model version is trained, and the packaging configuration",
    "ServiceQuotaExceededException": lambda p, w: "wait for running packaging jobs to end, or ask for a higher quota",
    "AccessDeniedException": lambda p, w: (
        f"grant {START_JOB_ACTION} on the model, s3:PutObject under the output prefix, s3:GetBucketLocation, "
        f"{CREATE_COMPONENT_ACTION} and {DESCRIBE_COMPONENT_ACTION} on the component (and kms:GenerateDataKey on "
        "the bucket's key)"
    ),
}


def refusal_reason(
    problem: ApiProblem, job: str, packaging: Packaging, wording: Wording, *, gave_up: bool = False
) -> str:
    prefix = f"Could not start model packaging job {job}"
    if gave_up:
        return (
            f"{prefix}: Lookout for Vision kept answering {problem.message} until the wait's time ran out; rerun the "
            f"deployment later, or ask for a higher {START_JOB_ACTION.split(':')[1]} quota"
        )
    advice = _ADVICE.get(problem.code)
    if advice is not None and problem.status:
        return f"{prefix}: {problem.code}: {problem.said or 'no message'}; {advice(packaging, wording)}"
    return problem.message if problem.message.startswith(prefix) else f"{prefix}: {problem.message}"
