"""ResourceProperties as CloudFormation sends them (every scalar a string), validated into JobProperties."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import contract as c
from .configuration import Packaging, PackagingError
from .configuration import parse as parse_packaging


class PropertyError(ValueError):
    """A ResourceProperties problem, phrased as what to fix."""


@dataclass(frozen=True)
class JobProperties:
    project_name: str
    job_name: str
    wait_for_completion: bool = True
    wait_timeout_s: int = c.DEFAULT_WAIT_TIMEOUT_S
    expected_component_name: str | None = None
    service_timeout_s: int | None = None
    packaging: Packaging | None = None

    @property
    def physical_id(self) -> str:
        return f"{self.project_name}/{self.job_name}"

    @property
    def answer_within_s(self) -> int:
        """How long CloudFormation waits for the answer after sending the request."""
        return self.service_timeout_s if self.service_timeout_s is not None else c.MAX_SERVICE_TIMEOUT_S


def parse_properties(properties: object) -> JobProperties:
    if not isinstance(properties, Mapping):
        raise PropertyError(f"ResourceProperties must be an object, got {type(properties).__name__}")
    unknown = sorted(str(k) for k in properties if k not in c.CFN_PROPERTIES and k not in c.PROPERTIES)
    if unknown:
        shown = ", ".join(repr(name[:64]) for name in unknown[:5])
        raise PropertyError(f"unknown properties {shown}; supported: {', '.join(c.PROPERTIES)}")
    project_name, job_name = _names(properties)
    wait = _parse_bool(c.WAIT_FOR_COMPLETION, properties.get(c.WAIT_FOR_COMPLETION, True))
    timeout = _parse_int(c.WAIT_TIMEOUT_SECONDS, properties.get(c.WAIT_TIMEOUT_SECONDS, c.DEFAULT_WAIT_TIMEOUT_S))
    if not c.MIN_WAIT_TIMEOUT_S <= timeout <= c.MAX_WAIT_TIMEOUT_S:
        bounds = f"{c.MIN_WAIT_TIMEOUT_S}..{c.MAX_WAIT_TIMEOUT_S}"
        raise PropertyError(f"{c.WAIT_TIMEOUT_SECONDS} {timeout} is outside {bounds} (1 to 55 minutes)")
    expected = properties.get(c.EXPECTED_COMPONENT_NAME)
    if expected is not None:
        problem = c.COMPONENT_NAME_RULE.problem(expected)
        if problem:
            raise PropertyError(problem.replace(c.COMPONENT_NAME_RULE.label, c.EXPECTED_COMPONENT_NAME, 1))
    packaging = _packaging(properties.get(c.PACKAGING), expected)
    expected = packaging.component_name if packaging else expected
    service_timeout = _service_timeout(properties.get(c.SERVICE_TIMEOUT))
    return JobProperties(project_name, job_name, wait, timeout, expected, service_timeout, packaging)


def _names(properties: Mapping[str, Any]) -> tuple[str, str]:
    for required in (c.PROJECT_NAME, c.JOB_NAME):
        if required not in properties:
            raise PropertyError(f"{required} is required")
    project_name, job_name = properties[c.PROJECT_NAME], properties[c.JOB_NAME]
    for rule, value in ((c.PROJECT_NAME_RULE, project_name), (c.JOB_NAME_RULE, job_name)):
        problem = rule.problem(value)
        if problem:
            raise PropertyError(problem)
    return str(project_name), str(job_name)


def _packaging(raw: object, expected: object) -> Packaging | None:
    if raw is None:
        return None
    try:
        packaging = parse_packaging(raw)
    except PackagingError as error:
        raise PropertyError(f"{c.PACKAGING}: {error}") from None
    if expected is not None and expected != packaging.component_name:
        raise PropertyError(
            f"{c.EXPECTED_COMPONENT_NAME} {expected!r} differs from the component the job is started with "
            f"({packaging.component_name!r}); leave {c.EXPECTED_COMPONENT_NAME} out"
        )
    return packaging


def _service_timeout(value: object) -> int | None:
    """None when absent or outside 1-3600 (CloudFormation validates its own property: such a value never comes)."""
    try:
        seconds = _parse_int(c.SERVICE_TIMEOUT, value)
    except PropertyError:
        return None
    return seconds if 1 <= seconds <= c.MAX_SERVICE_TIMEOUT_S else None


def _parse_bool(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise PropertyError(f"{name} must be true or false, got {c.show(value, 60)}")


def _parse_int(name: str, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,6}", value.strip()):
        return int(value.strip())
    raise PropertyError(f"{name} must be a whole number of seconds, got {c.show(value, 60)}")
