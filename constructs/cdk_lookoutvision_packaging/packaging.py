"""GreengrassPackaging: what a ModelPackagingJob starts when the stack declares the job instead of watching one."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_cdk import ArnFormat, Lazy, Stack, Token
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_lookoutvision_packaging._arguments import check_type
from cdk_lookoutvision_packaging._provider import JobFunction, ProduceList
from cdk_lookoutvision_packaging_handler import contract
from cdk_lookoutvision_packaging_handler.configuration import Packaging, check


@dataclass(frozen=True, kw_only=True)
class TargetPlatform:
    """The platform the model is compiled for, when it is not a ``target_device``.

    :param arch: ``"ARM64"`` or ``"X86_64"``.
    :param accelerator: ``"NVIDIA"`` for a GPU (then ``compiler_options`` needs ``gpu-code``, ``trt-ver`` and
        ``cuda-ver``). :default: None, the CPU
    :param os: The operating system. :default: ``"LINUX"``, the only one the service offers
    """

    arch: str
    accelerator: str | None = None
    os: str = "LINUX"

    def __post_init__(self) -> None:
        check_type("TargetPlatform.arch", self.arch, str, "a str, ARM64 or X86_64", optional=False)
        check_type("TargetPlatform.accelerator", self.accelerator, str, "a str, NVIDIA", optional=True)
        check_type("TargetPlatform.os", self.os, str, "a str, LINUX", optional=False)

    def _property(self) -> dict[str, str]:
        value = {"Os": self.os, "Arch": self.arch}
        if self.accelerator is not None:
            value["Accelerator"] = self.accelerator
        return value


@dataclass(frozen=True, kw_only=True)
class GreengrassPackaging:
    """A model packaging job for the stack to start: StartModelPackagingJob's configuration, as CDK values.

    :param model_version: The model version to package: a number such as ``"3"`` (or the int ``3``), or
        ``"latest"``, which then needs ``component_version``. The service resolves ``"latest"`` when the job starts,
        and the job starts only when the resource is created or its configuration changes: a newly trained model
        changes nothing in the template, so ``cdk deploy`` does nothing. A new ``component_version`` is what packages
        the new model.
    :param component_name: The Greengrass component the job creates: a literal, which keys the Greengrass deployment.
    :param output_bucket: Where the job writes the component's artifacts.
    :param output_prefix: The key prefix in ``output_bucket``. :default: the bucket's root
    :param component_version: The component version to create. :default: ``"<model_version>.0.0"``, the service's
        default
    :param target_device: The device to compile for (``"jetson_xavier"``); give it or ``target_platform``.
    :param target_platform: The platform to compile for; give it or ``target_device``.
    :param compiler_options: Compiler options for ``target_platform`` as a dict, such as
        ``{"mcpu": "skylake-avx512"}``; the job receives them as a JSON object. A JSON string is refused (pass
        ``json.loads(text)``), and an empty dict means no compiler options. :default: none
    :param component_description: The component's description. :default: none
    :param tags: Tags of the Greengrass component (adds ``greengrass:TagResource`` to the role). ``Tags.of()`` on
        the job or any scope above it adds tags too; these win on the same key. :default: none
    :param job_description: The packaging job's description. :default: none
    """

    model_version: str | int
    component_name: str
    output_bucket: s3.IBucket
    output_prefix: str | None = None
    component_version: str | None = None
    target_device: str | None = None
    target_platform: TargetPlatform | None = None
    compiler_options: Mapping[str, Any] | None = None
    component_description: str | None = None
    tags: Mapping[str, str] | None = None
    job_description: str | None = None

    def __post_init__(self) -> None:
        # A frozen dataclass: the int model version and the empty compiler options are normalized in place.
        check_type(
            "GreengrassPackaging.model_version",
            self.model_version,
            (str, int),
            'a str or an int, a model version such as 3 (or "latest")',
            optional=False,
        )
        object.__setattr__(self, "model_version", str(self.model_version))
        for name, takes, kind, optional in _FIELD_TYPES:
            check_type(f"GreengrassPackaging.{name}", getattr(self, name), kind, takes, optional=optional)
        if self.compiler_options is not None and not self.compiler_options:
            object.__setattr__(self, "compiler_options", None)
        if self.compiler_options is not None:
            try:
                json.dumps(dict(self.compiler_options))
            except (TypeError, ValueError) as error:
                raise TypeError(
                    f"GreengrassPackaging.compiler_options must be JSON: {error}; give str, number, bool, list or "
                    "dict values"
                ) from None
        for key, value in (self.tags or {}).items():
            check_type("GreengrassPackaging.tags keys", key, str, "str keys", optional=False)
            check_type(f"GreengrassPackaging.tags[{key!r}]", value, str, "a str, the tag's value", optional=False)

    def _packaging(self) -> Packaging:
        greengrass: dict[str, Any] = {
            "ComponentName": self.component_name,
            "S3OutputLocation": {"Bucket": self.output_bucket.bucket_name},
        }
        model_version = str(self.model_version)
        version = self.component_version or contract.default_component_version(model_version)
        if version is not None:
            greengrass["ComponentVersion"] = version
        if self.output_prefix:
            greengrass["S3OutputLocation"]["Prefix"] = self.output_prefix
        if self.target_device is not None:
            greengrass["TargetDevice"] = self.target_device
        if self.target_platform is not None:
            greengrass["TargetPlatform"] = self.target_platform._property()
        if self.compiler_options is not None:
            greengrass["CompilerOptions"] = json.dumps(dict(self.compiler_options), sort_keys=True)
        if self.component_description is not None:
            greengrass["ComponentDescription"] = self.component_description
        if self.tags:
            greengrass["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(self.tags.items())]
        return Packaging(model_version, greengrass, self.job_description)

    def _validated(self) -> Packaging:
        """The packaging configuration, or a ValueError naming every rule it breaks."""
        for name in ("model_version", "component_name", "component_version", "target_device"):
            value = getattr(self, name)
            if isinstance(value, str) and Token.is_unresolved(value):
                raise ValueError(
                    f"packaging.{name} is a token; it must be a literal known at synth time (it names the job, the "
                    "component and its IAM permissions)"
                )
        if self.compiler_options is not None and self.target_platform is None:
            raise ValueError("packaging.compiler_options go with target_platform only; a target_device sets its own")
        packaging = self._packaging()
        problems = check(packaging, skip=lambda value: isinstance(value, str) and Token.is_unresolved(value))
        if problems:
            raise ValueError(f"packaging: {'; '.join(problems)}")
        return packaging

    def _grant(
        self,
        handler: JobFunction,
        scope: Construct,
        project_name: str,
        packaging: Packaging,
        *,
        tagged: Callable[[], bool],
    ) -> None:
        """What StartModelPackagingJob needs, each statement as narrow as the Service Authorization Reference
        allows (the README's IAM table lists them). ``tagged`` says, when the template is written, whether the
        component gets tags."""
        stack = Stack.of(scope)
        version = "*" if packaging.model_version == "latest" else packaging.model_version
        model = stack.format_arn(
            service="lookoutvision",
            resource="model",
            resource_name=f"{project_name}/{version}",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        handler.allow(
            [contract.START_JOB_ACTION],
            [model],
            wildcard_reason="model_version latest names no model version at synth time: any version of this project",
        )
        handler.allow(
            ["s3:PutObject"],
            [self.output_bucket.arn_for_objects(f"{self.output_prefix or ''}*")],
            wildcard_reason="the packaging job writes the component's artifacts under the output prefix, whose "
            "object keys it chooses",
        )
        handler.allow(["s3:GetBucketLocation"], [self.output_bucket.bucket_arn])
        if self.output_bucket.encryption_key is not None:
            handler.allow(["kms:GenerateDataKey"], [self.output_bucket.encryption_key.key_arn])
        components = component_arns(stack, packaging.component_name, packaging.component_version)
        # Tags.of() adds tags after this runs, so whether the role may tag the component is decided when the
        # template is written: greengrass:TagResource only for a component that gets tags.
        handler.allow(
            Lazy.uncached_list(
                ProduceList(
                    lambda: [
                        contract.CREATE_COMPONENT_ACTION,
                        contract.DESCRIBE_COMPONENT_ACTION,
                        *([contract.TAG_COMPONENT_ACTION] if tagged() else []),
                    ]
                )
            ),
            components,
        )


# The fields of GreengrassPackaging after model_version: name, what it takes, its type, and whether None is allowed.
_FIELD_TYPES: tuple[tuple[str, str, type | tuple[type, ...], bool], ...] = (
    ("component_name", "a str, the Greengrass component's name such as com.example.pcb-defects", str, False),
    (
        "output_bucket",
        "an s3.IBucket such as s3.Bucket.from_bucket_name(self, 'Models', 'my-bucket')",
        s3.IBucket,
        False,
    ),
    ("output_prefix", "a str, an S3 key prefix such as lookoutvision/pcb/", str, True),
    ("component_version", "a str, major.minor.patch such as 3.0.0", str, True),
    ("target_device", "a str, a device such as jetson_xavier", str, True),
    ("target_platform", "a TargetPlatform(arch=...) from cdk_lookoutvision_packaging", TargetPlatform, True),
    ("compiler_options", "a dict such as {'mcpu': 'skylake-avx512'} (for a JSON string, json.loads it)", Mapping, True),
    ("component_description", "a str", str, True),
    ("tags", "a dict of str keys and str values such as {'team': 'vision'}", Mapping, True),
    ("job_description", "a str", str, True),
)


def component_version_arn(stack: Stack, name: str, version: str | None) -> str:
    """A Greengrass component version's ARN (every version of the component when ``version`` is None)."""
    return stack.format_arn(
        service="greengrass",
        resource="components",
        resource_name=f"{name}:versions:{version or '*'}",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def component_arns(stack: Stack, name: str, version: str | None) -> list[str]:
    """The Greengrass component and its version: CreateComponentVersion acts on the component, DescribeComponent on
    the version."""
    component = stack.format_arn(
        service="greengrass", resource="components", resource_name=name, arn_format=ArnFormat.COLON_RESOURCE_NAME
    )
    return [component, component_version_arn(stack, name, version)]
