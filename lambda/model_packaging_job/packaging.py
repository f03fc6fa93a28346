"""Start a model packaging job, or adopt the one that already exists: the one implementation the handler and the
CLI's ``start`` share.

The configuration is StartModelPackagingJob's own (ModelVersion, Description, Configuration.Greengrass). A job is
started with a client token derived from the project, the job name and that configuration, so a repeated or
continued request never starts a second job; an existing job with the same model version, component name and
version, target and output location is adopted; one with another configuration is refused, naming what differs,
because a packaging job cannot change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from . import contract as c
from . import packaging_job as pj


class PackagingError(ValueError):
    """A packaging configuration that breaks a rule, phrased as what to fix."""


@dataclass(frozen=True)
class Packaging:
    """StartModelPackagingJob's ModelVersion, Description and Configuration.Greengrass, validated."""

    model_version: str
    greengrass: Mapping[str, Any]
    description: str | None = None

    @property
    def component_name(self) -> str:
        return str(self.greengrass["ComponentName"])

    @property
    def component_version(self) -> str | None:
        version = self.greengrass.get("ComponentVersion")
        return str(version) if version else c.default_component_version(self.model_version)

    def as_property(self) -> dict[str, Any]:
        value: dict[str, Any] = {"ModelVersion": self.model_version, "Configuration": {"Greengrass": self.greengrass}}
        if self.description:
            value["Description"] = self.description
        return value

    def client_token(self, project_name: str, job_name: str) -> str:
        """The same for the same job and configuration, whoever starts it (a stack or the CLI), and only then."""
        canonical = json.dumps([project_name, job_name, self.as_property()], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def start_request(self, project_name: str, job_name: str) -> dict[str, Any]:
        greengrass = dict(self.greengrass)
        if "ComponentVersion" not in greengrass and self.component_version:
            greengrass["ComponentVersion"] = self.component_version
        request: dict[str, Any] = {
            "ProjectName": project_name,
            "ModelVersion": self.model_version,
            "JobName": job_name,
            "Configuration": {"Greengrass": greengrass},
            "ClientToken": self.client_token(project_name, job_name),
        }
        if self.description:
            request["Description"] = self.description
        return request

    def differences(self, description: Mapping[str, Any]) -> list[str]:
        """How an existing job's configuration differs from this one, in what decides the component it builds."""
        theirs = (description.get("ModelPackagingConfiguration") or {}).get("Greengrass") or {}
        ours = self.greengrass
        pairs: list[tuple[str, object, object]] = [
            (
                "ModelVersion",
                description.get("ModelVersion"),
                None if self.model_version == "latest" else self.model_version,
            ),
            ("ComponentName", theirs.get("ComponentName"), ours.get("ComponentName")),
            ("ComponentVersion", theirs.get("ComponentVersion"), self.component_version),
            ("TargetDevice", theirs.get("TargetDevice"), ours.get("TargetDevice")),
            ("TargetPlatform", _platform(theirs.get("TargetPlatform")), _platform(ours.get("TargetPlatform"))),
            ("CompilerOptions", _options(theirs.get("CompilerOptions")), _options(ours.get("CompilerOptions"))),
            ("S3OutputLocation", _location(theirs.get("S3OutputLocation")), _location(ours.get("S3OutputLocation"))),
        ]
        found = []
        for name, existing, wanted in pairs:
            if name in ("ModelVersion", "ComponentVersion") and wanted is None:
                continue  # "latest" adopts whatever version the job packaged
            if existing != wanted:
                found.append(f"{name} is {_shown(existing)}, this configuration asks for {_shown(wanted)}")
        return found


def _platform(value: object) -> object:
    if not isinstance(value, Mapping):
        return None
    return {k: value[k] for k in ("Os", "Arch", "Accelerator") if value.get(k)}


def _options(value: object) -> object:
    if not value:
        return None
    try:
        return json.loads(str(value))
    except ValueError:
        return str(value)


def _location(value: object) -> object:
    if not isinstance(value, Mapping):
        return None
    return f"s3://{value.get('Bucket', '')}/{value.get('Prefix') or ''}"


def _shown(value: object) -> str:
    if value is None:
        return "none"
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


# --- validation ----------------------------------------------------------------------------------------------------


def parse(raw: object) -> Packaging:
    """Validate a Packaging property (as CloudFormation sends it: every value a string); raise PackagingError."""
    if not isinstance(raw, Mapping):
        raise PackagingError(f"{c.PACKAGING} must be an object, got {type(raw).__name__}")
    unknown = sorted(set(map(str, raw)) - {"ModelVersion", "Description", "Configuration"})
    if unknown:
        raise PackagingError(f"{c.PACKAGING} has unknown keys {', '.join(unknown[:5])}")
    configuration = raw.get("Configuration")
    greengrass = configuration.get("Greengrass") if isinstance(configuration, Mapping) else None
    if not isinstance(greengrass, Mapping):
        raise PackagingError(f"{c.PACKAGING}.Configuration.Greengrass is required (an object)")
    description = raw.get("Description")
    packaging = Packaging(str(raw.get("ModelVersion", "")), dict(greengrass), str(description) if description else None)
    problems = check(packaging)
    if problems:
        raise PackagingError("; ".join(problems))
    return packaging


_GREENGRASS_KEYS = frozenset(
    {
        "ComponentName",
        "ComponentVersion",
        "ComponentDescription",
        "TargetDevice",
        "TargetPlatform",
        "CompilerOptions",
        "S3OutputLocation",
        "Tags",
    }
)


def check(packaging: Packaging, *, skip: Callable[[object], bool] = lambda _value: False) -> list[str]:
    """Every rule the configuration breaks, each phrased with the API's field name and what to do. ``skip`` tells
    values not to check yet (the construct skips tokens, which the handler checks at deploy time)."""
    g = packaging.greengrass
    problems: list[str] = []

    def rule(rule: c.NameRule, value: object) -> None:
        if value is not None and not skip(value):
            problem = rule.problem(value)
            if problem:
                problems.append(problem)

    unknown = sorted(set(map(str, g)) - _GREENGRASS_KEYS)
    if unknown:
        problems.append(f"Configuration.Greengrass has unknown keys {', '.join(unknown[:5])}")
    rule(c.MODEL_VERSION_RULE, packaging.model_version)
    if "ComponentName" not in g:
        problems.append("ComponentName is required")
    rule(c.COMPONENT_NAME_RULE, g.get("ComponentName"))
    rule(c.COMPONENT_VERSION_RULE, g.get("ComponentVersion"))
    if packaging.model_version == "latest" and not g.get("ComponentVersion"):
        problems.append(
            "ModelVersion latest needs a ComponentVersion: the component version (and the default job name) "
            "cannot be derived from it"
        )
    for key, value in (("ComponentDescription", g.get("ComponentDescription")), ("Description", packaging.description)):
        if value is not None and not skip(value):
            problem = c.DESCRIPTION_RULE.problem(value)
            if problem:
                problems.append(problem.replace(c.DESCRIPTION_RULE.label, key, 1))
    problems += _target_problems(g, skip)
    location = g.get("S3OutputLocation")
    if not isinstance(location, Mapping) or "Bucket" not in location:
        problems.append("S3OutputLocation with a Bucket is required")
    else:
        rule(c.BUCKET_RULE, location.get("Bucket"))
        if location.get("Prefix"):
            rule(c.PREFIX_RULE, location.get("Prefix"))
    tags = g.get("Tags") or []
    if not isinstance(tags, list) or len(tags) > c.MAX_TAGS:
        problems.append(f"Tags must be a list of at most {c.MAX_TAGS} {{Key, Value}} pairs")
    else:
        for tag in tags:
            if not isinstance(tag, Mapping) or skip(tag.get("Key")) or skip(tag.get("Value")):
                continue
            problem = c.tag_problem(tag.get("Key"), tag.get("Value"))
            if problem:
                problems.append(problem)
    return problems


def _target_problems(g: Mapping[str, Any], skip: Callable[[object], bool]) -> list[str]:
    device, platform, options = g.get("TargetDevice"), g.get("TargetPlatform"), g.get("CompilerOptions")
    if (device is None) == (platform is None):
        return ["give exactly one of TargetDevice (such as jetson_xavier) and TargetPlatform (Os, Arch, Accelerator)"]
    if device is not None:
        problems = (
            []
            if skip(device) or device in c.TARGET_DEVICES
            else [f"TargetDevice {device!r} is not one of {', '.join(c.TARGET_DEVICES)}"]
        )
        if options is not None:
            problems.append("CompilerOptions go with TargetPlatform only; a TargetDevice sets its own")
        return problems
    if not isinstance(platform, Mapping):
        return ["TargetPlatform must be an object with Os, Arch and optionally Accelerator"]
    problems = []
    for key, allowed, required in (
        ("Os", c.TARGET_OS, True),
        ("Arch", c.TARGET_ARCHS, True),
        ("Accelerator", c.TARGET_ACCELERATORS, False),
    ):
        value = platform.get(key)
        if value is None and not required:
            continue
        if value not in allowed:
            problems.append(f"TargetPlatform.{key} {value!r} is not one of {', '.join(allowed)}")
    parsed: object = None
    if options is not None and not skip(options):
        low, high = c.COMPILER_OPTIONS_CHARS
        try:
            parsed = json.loads(str(options))
        except ValueError:
            parsed = None
        if not low <= len(str(options)) <= high or not isinstance(parsed, dict):
            problems.append(
                f"CompilerOptions must be a JSON object of {low}-{high} characters, got {str(options)[:60]!r}"
            )
    if platform.get("Accelerator") == "NVIDIA" and not skip(options):
        missing = [k for k in c.NVIDIA_COMPILER_OPTIONS if not isinstance(parsed, dict) or k not in parsed]
        if missing:
            problems.append(
                f"an NVIDIA TargetPlatform needs CompilerOptions with {', '.join(c.NVIDIA_COMPILER_OPTIONS)}; "
                f"missing {', '.join(missing)}"
            )
    return problems


# --- start or adopt ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    """How ensure_job ended: ``started`` or ``adopted`` (then wait for the job), or ``refused`` with a reason."""

    outcome: str
    reason: str = ""


# How long starting may take in all (its retries of throttling and transient errors included).
START_BUDGET_S = 60.0


def ensure_job(
    client: Any,
    project_name: str,
    job_name: str,
    packaging: Packaging,
    *,
    clock: pj.Clock,
    region: str = "",
    wording: pj.Wording = pj.CONSTRUCT_WORDING,
    budget_s: float = START_BUDGET_S,
) -> Started:
    """Adopt ``project_name/job_name`` when it exists with this configuration, start it when it does not."""
    give_up_at = clock.now() + budget_s
    job = f"{project_name}/{job_name}"
    attempt = 0
    conflict: pj.ApiProblem | None = None
    while True:
        attempt += 1
        try:
            return _adopt(pj.describe(client, project_name, job_name, pj.MAX_CALL_S), packaging, job, wording)
        except Exception as error:  # noqa: BLE001 - classified below
            problem = pj.classify_error(error, project_name, job_name, region, wording)
            if not _job_missing(problem):
                if problem.retryable and _pause(clock, attempt, give_up_at, problem):
                    continue
                return Started("refused", problem.message)
        if conflict is not None:
            # The start conflicted and still no job has this name: the conflict is the component version.
            return Started("refused", refusal_reason(conflict, job, packaging, wording))
        try:
            request = packaging.start_request(project_name, job_name)
            pj.bounded_call(
                partial(client.start_model_packaging_job, **request), pj.MAX_CALL_S, "StartModelPackagingJob"
            )
            return Started("started")
        except Exception as error:  # noqa: BLE001 - classified below
            problem = pj.classify_error(error, project_name, job_name, region, wording)
            if problem.code == "ConflictException":
                conflict = problem  # a duplicate request started the job meanwhile, or the component version exists
                continue
            if problem.retryable and _pause(clock, attempt, give_up_at, problem):
                continue
            return Started("refused", refusal_reason(problem, job, packaging, wording))


def _job_missing(problem: pj.ApiProblem) -> bool:
    """Whether a Describe said the job does not exist (and not that the project does not)."""
    from botocore.exceptions import ClientError

    if problem.code != "ResourceNotFoundException" or not isinstance(problem.error, ClientError):
        return False
    return str(problem.error.response.get("ResourceType") or "") != "PROJECT"


def _adopt(description: Mapping[str, Any], packaging: Packaging, job: str, wording: pj.Wording) -> Started:
    differences = packaging.differences(description)
    if not differences:
        return Started("adopted")
    return Started(
        "refused",
        f"Model packaging job {job} already exists with another configuration: {'; '.join(differences)}. A "
        f"packaging job cannot change: give this configuration a new {wording.job_name} (the default job name "
        "changes with the component version)",
    )


def _pause(clock: pj.Clock, attempt: int, give_up_at: float, problem: pj.ApiProblem) -> bool:
    delay = min(pj.BACKOFF_CAP_S, pj.BACKOFF_BASE_S * 2 ** (attempt - 1)) * clock.rng.uniform(0.5, 1.0)
    delay = max(delay, problem.retry_after_s or 0.0)
    if clock.now() + delay > give_up_at:
        return False
    clock.sleep(delay)
    return True


def refusal_reason(problem: pj.ApiProblem, job: str, packaging: Packaging, wording: pj.Wording) -> str:
    """One line saying why the service refused to start ``job`` and what to change."""
    text = _message_of(problem)
    name, version = packaging.component_name, packaging.component_version or "(the service's default)"
    if problem.code == "ConflictException":
        advice = (
            f"Greengrass component {name} version {version} probably exists already: give the configuration a new "
            "component version"
        )
    elif problem.code == "ResourceNotFoundException":
        advice = (
            f"model version {packaging.model_version} of the project does not exist: check model_version and "
            f"{wording.project_name}"
        )
    elif problem.code == "ValidationException":
        advice = "check that the model version is trained, and the packaging configuration"
    elif problem.code == "ServiceQuotaExceededException":
        advice = "wait for running packaging jobs to end, or ask for a higher quota"
    elif problem.code == "AccessDeniedException":
        advice = (
            "grant lookoutvision:StartModelPackagingJob on the model, s3:PutObject under the output prefix, "
            "s3:GetBucketLocation, greengrass:CreateComponentVersion and greengrass:DescribeComponent on the "
            "component (and kms:GenerateDataKey on the bucket's key)"
        )
    else:
        return f"Could not start model packaging job {job}: {problem.message}"
    return f"Could not start model packaging job {job}: {problem.code}: {text}; {advice}"


def _message_of(problem: pj.ApiProblem) -> str:
    from botocore.exceptions import ClientError

    if isinstance(problem.error, ClientError):
        return pj.one_line(str(problem.error.response.get("Error", {}).get("Message", "")).strip()) or "no message"
    return problem.message
