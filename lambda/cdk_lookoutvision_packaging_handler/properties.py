"""ResourceProperties as CloudFormation sends them (every scalar a string), validated into JobProperties."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
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
    for required in (c.PROJECT_NAME, c.JOB_NAME):
        if required not in properties:
            raise PropertyError(f"{required} is required")
    project_name, job_name = properties[c.PROJECT_NAME], properties[c.JOB_NAME]
    if problem := c.PROJECT_NAME_RULE.problem(project_name) or c.JOB_NAME_RULE.problem(job_name):
        raise PropertyError(problem)
    wait, timeout = _wait(properties)
    expected, packaging = _component(properties)
    # CloudFormation validates its own ServiceTimeout (1-3600 s): any other value never comes, and counts as none.
    seconds = _whole_seconds(properties.get(c.SERVICE_TIMEOUT))
    service_timeout = seconds if seconds is not None and 1 <= seconds <= c.MAX_SERVICE_TIMEOUT_S else None
    return JobProperties(str(project_name), str(job_name), wait, timeout, expected, service_timeout, packaging)


def _wait(properties: Mapping[str, Any]) -> tuple[bool, int]:
    wait = properties.get(c.WAIT_FOR_COMPLETION, True)
    if isinstance(wait, str) and wait.lower() in ("true", "false"):
        wait = wait.lower() == "true"
    if not isinstance(wait, bool):
        raise PropertyError(f"{c.WAIT_FOR_COMPLETION} must be true or false, got {c.show(wait, 60)}")
    given = properties.get(c.WAIT_TIMEOUT_SECONDS, c.DEFAULT_WAIT_TIMEOUT_S)
    timeout = _whole_seconds(given)
    if timeout is None:
        raise PropertyError(f"{c.WAIT_TIMEOUT_SECONDS} must be a whole number of seconds, got {c.show(given, 60)}")
    if not c.MIN_WAIT_TIMEOUT_S <= timeout <= c.MAX_WAIT_TIMEOUT_S:
        bounds = f"{c.MIN_WAIT_TIMEOUT_S}..{c.MAX_WAIT_TIMEOUT_S}"
        raise PropertyError(f"{c.WAIT_TIMEOUT_SECONDS} {timeout} is outside {bounds} (1 to 55 minutes)")
    return wait, timeout


def _component(properties: Mapping[str, Any]) -> tuple[str | None, Packaging | None]:
    """The component the resource expects, and the configuration it starts its job with (the component it names)."""
    expected, raw = properties.get(c.EXPECTED_COMPONENT_NAME), properties.get(c.PACKAGING)
    rule = replace(c.COMPONENT_NAME_RULE, label=c.EXPECTED_COMPONENT_NAME)
    if expected is not None and (problem := rule.problem(expected)):
        raise PropertyError(problem)
    if raw is None:
        return expected, None
    try:
        packaging = parse_packaging(raw)
    except PackagingError as error:
        raise PropertyError(f"{c.PACKAGING}: {error}") from None
    if expected is not None and expected != packaging.component_name:
        raise PropertyError(
            f"{c.EXPECTED_COMPONENT_NAME} {expected!r} differs from the component the job is started with "
            f"({packaging.component_name!r}); leave {c.EXPECTED_COMPONENT_NAME} out"
        )
    return packaging.component_name, packaging


def _whole_seconds(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,6}", value.strip()):
        return int(value.strip())
    return None
