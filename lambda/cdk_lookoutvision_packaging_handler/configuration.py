"""A packaging configuration (StartModelPackagingJob's ModelVersion, Description and Configuration.Greengrass): its
rules, checked by the construct, the handler and the CLI alike before any call, its client token, and how an existing
job's configuration differs from it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from . import contract as c


class PackagingError(ValueError):
    """A packaging configuration that breaks a rule, phrased as what to fix."""


@dataclass(frozen=True)
class Packaging:
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
        described = {"Description": self.description} if self.description else {}
        return {"ModelVersion": self.model_version, "Configuration": {"Greengrass": self.greengrass}, **described}

    def client_token(self, project_name: str, job_name: str) -> str:
        """The same for the same job and configuration, whoever starts it (a stack or the CLI), and only then."""
        canonical = json.dumps([project_name, job_name, self.as_property()], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def start_request(self, project_name: str, job_name: str) -> dict[str, Any]:
        greengrass = dict(self.greengrass)
        if "ComponentVersion" not in greengrass and self.component_version:
            greengrass["ComponentVersion"] = self.component_version
        return {
            "ProjectName": project_name,
            "ModelVersion": self.model_version,
            "JobName": job_name,
            "Configuration": {"Greengrass": greengrass},
            "ClientToken": self.client_token(project_name, job_name),
            **({"Description": self.description} if self.description else {}),
        }

    def differences(self, description: Mapping[str, Any]) -> list[str]:
        """How an existing job's configuration differs from this one, in what decides the component."""
        theirs = (description.get("ModelPackagingConfiguration") or {}).get("Greengrass") or {}
        ours = self.greengrass
        # "latest" adopts whatever version the job packaged (and, with no ComponentVersion, its component version).
        model_version = description.get("ModelVersion") if self.model_version == "latest" else self.model_version
        component_version = self.component_version or theirs.get("ComponentVersion")
        pairs: list[tuple[str, object, object]] = [
            ("ModelVersion", description.get("ModelVersion"), model_version),
            ("ComponentName", theirs.get("ComponentName"), ours.get("ComponentName")),
            ("ComponentVersion", theirs.get("ComponentVersion"), component_version),
            ("TargetDevice", theirs.get("TargetDevice"), ours.get("TargetDevice")),
            ("TargetPlatform", _platform(theirs.get("TargetPlatform")), _platform(ours.get("TargetPlatform"))),
            ("CompilerOptions", _options(theirs.get("CompilerOptions")), _options(ours.get("CompilerOptions"))),
            ("S3OutputLocation", _location(theirs.get("S3OutputLocation")), _location(ours.get("S3OutputLocation"))),
        ]
        return [
            f"{name} is {_shown(existing)}, this configuration asks for {_shown(wanted)}"
            for name, existing, wanted in pairs
            if existing != wanted
        ]


def _platform(value: object) -> object:
    return {k: value[k] for k in ("Os", "Arch", "Accelerator") if value.get(k)} if isinstance(value, Mapping) else None


def _options(value: object) -> object:
    if not value:
        return None
    try:
        return json.loads(str(value))
    except ValueError:
        return str(value)


def _location(value: object) -> object:
    return f"s3://{value.get('Bucket', '')}/{value.get('Prefix') or ''}" if isinstance(value, Mapping) else None


def _shown(value: object) -> str:
    if value is None:
        return "none"
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def parse(raw: object) -> Packaging:
    """Validate a Packaging property (every value a string, as CloudFormation sends it)."""
    if not isinstance(raw, Mapping):
        raise PackagingError(f"{c.PACKAGING} must be an object, got {type(raw).__name__}")
    unknown = sorted(set(map(str, raw)) - {"ModelVersion", "Description", "Configuration"})
    if unknown:
        raise PackagingError(f"{c.PACKAGING} has unknown keys {', '.join(unknown[:5])}")
    configuration = raw.get("Configuration")
    if not isinstance(configuration, Mapping) or not isinstance(configuration.get("Greengrass"), Mapping):
        raise PackagingError(f"{c.PACKAGING}.Configuration.Greengrass is required (an object)")
    description = raw.get("Description")
    greengrass = dict(configuration["Greengrass"])
    packaging = Packaging(str(raw.get("ModelVersion", "")), greengrass, str(description) if description else None)
    extra = _unknown_keys(f"{c.PACKAGING}.Configuration", configuration, frozenset({"Greengrass"}))
    if problems := extra or check(packaging):
        raise PackagingError("; ".join(problems))
    return packaging


_GREENGRASS_KEYS = frozenset(
    "ComponentName ComponentVersion ComponentDescription TargetDevice TargetPlatform CompilerOptions S3OutputLocation "
    "Tags".split()
)
Skip = Callable[[object], bool]


def check(packaging: Packaging, *, skip: Skip = lambda _value: False) -> list[str]:
    """Every rule the configuration breaks; ``skip`` tells values not to check yet (the construct's tokens)."""
    g = packaging.greengrass
    problems = _unknown_keys("Configuration.Greengrass", g, _GREENGRASS_KEYS)
    problems += _rule(c.MODEL_VERSION_RULE, packaging.model_version, skip)
    if "ComponentName" not in g:
        problems.append("ComponentName is required")
    problems += _rule(c.COMPONENT_NAME_RULE, g.get("ComponentName"), skip)
    problems += _rule(c.COMPONENT_VERSION_RULE, g.get("ComponentVersion"), skip)
    if packaging.model_version == "latest" and not g.get("ComponentVersion"):
        problems.append(
            "ModelVersion latest needs a ComponentVersion: the component version (and the default job name) "
            "cannot be derived from it"
        )
    for key, value in (("ComponentDescription", g.get("ComponentDescription")), ("Description", packaging.description)):
        problems += _rule(replace(c.DESCRIPTION_RULE, label=key), value, skip)
    return problems + _target_problems(g, skip) + _location_problems(g, skip) + _tag_problems(g, skip)


def _rule(rule: c.NameRule, value: object, skip: Skip) -> list[str]:
    problem = None if value is None or skip(value) else rule.problem(value)
    return [problem] if problem else []


def _unknown_keys(where: str, value: Mapping[str, Any], allowed: frozenset[str]) -> list[str]:
    unknown = sorted(set(map(str, value)) - allowed)
    takes = ", ".join(sorted(allowed))
    return [f"{where} has unknown keys {', '.join(unknown[:5])}; it takes {takes}"] if unknown else []


def _location_problems(g: Mapping[str, Any], skip: Skip) -> list[str]:
    location = g.get("S3OutputLocation")
    if not isinstance(location, Mapping) or "Bucket" not in location:
        return ["S3OutputLocation with a Bucket is required"]
    problems = _unknown_keys("S3OutputLocation", location, frozenset({"Bucket", "Prefix"}))
    problems += _rule(c.BUCKET_RULE, location.get("Bucket"), skip)
    return problems + _rule(c.PREFIX_RULE, location.get("Prefix") or None, skip)  # an empty Prefix is none


def _tag_problems(g: Mapping[str, Any], skip: Skip) -> list[str]:
    tags = g.get("Tags")
    if tags is None or skip(tags):
        return []
    if not isinstance(tags, list) or len(tags) > c.MAX_TAGS:
        got = f"{len(tags)} pairs" if isinstance(tags, list) else type(tags).__name__
        return [f"Tags must be a list of at most {c.MAX_TAGS} {{Key, Value}} pairs, got {got}"]
    problems: list[str] = []
    for tag in [tag for tag in tags if not skip(tag)]:
        if not isinstance(tag, Mapping):
            problems.append(f"each of Tags must be a {{Key, Value}} pair, got {type(tag).__name__}")
            continue
        problems += _unknown_keys("a tag", tag, frozenset({"Key", "Value"}))
        key, value = tag.get("Key"), tag.get("Value")
        if not (skip(key) or skip(value)) and (problem := c.tag_problem(key, value)):
            problems.append(problem)
    return problems


def _target_problems(g: Mapping[str, Any], skip: Skip) -> list[str]:
    device, platform, options = g.get("TargetDevice"), g.get("TargetPlatform"), g.get("CompilerOptions")
    if (device is None) == (platform is None):
        return ["give exactly one of TargetDevice (such as jetson_xavier) and TargetPlatform (Os, Arch, Accelerator)"]
    if device is not None:
        problems = []
        if not (skip(device) or device in c.TARGET_DEVICES):
            problems.append(f"TargetDevice {device!r} is not one of {', '.join(c.TARGET_DEVICES)}")
        if options is not None:
            problems.append("CompilerOptions go with TargetPlatform only; a TargetDevice sets its own")
        return problems
    if not isinstance(platform, Mapping):
        return ["TargetPlatform must be an object with Os, Arch and optionally Accelerator"]
    problems = _unknown_keys("TargetPlatform", platform, frozenset(key for key, _, _ in _PLATFORM_VALUES))
    for key, allowed, required in _PLATFORM_VALUES:
        value = platform.get(key)
        if (value is not None or required) and value not in allowed:
            problems.append(f"TargetPlatform.{key} {value!r} is not one of {', '.join(allowed)}")
    return problems + _compiler_problems(platform, options, skip)


_PLATFORM_VALUES = (
    ("Os", c.TARGET_OS, True),
    ("Arch", c.TARGET_ARCHS, True),
    ("Accelerator", c.TARGET_ACCELERATORS, False),
)


def _compiler_problems(platform: Mapping[str, Any], options: object, skip: Skip) -> list[str]:
    if skip(options):
        return []
    problems: list[str] = []
    parsed = _options(options)
    low, high = c.COMPILER_OPTIONS_CHARS
    if options is not None and (not low <= len(str(options)) <= high or not isinstance(parsed, dict)):
        problems.append(f"CompilerOptions must be a JSON object of {low}-{high} characters, got {str(options)[:60]!r}")
    missing = [k for k in c.NVIDIA_COMPILER_OPTIONS if not isinstance(parsed, dict) or k not in parsed]
    if platform.get("Accelerator") == "NVIDIA" and missing:
        needed = ", ".join(c.NVIDIA_COMPILER_OPTIONS)
        problems.append(f"an NVIDIA TargetPlatform needs CompilerOptions with {needed}; missing {', '.join(missing)}")
    return problems
