#!/usr/bin/env python3
"""The example CDK app: a gate stack that waits for a Lookout for Vision model packaging job on `cdk deploy`, and an
edge stack that ships the packaged model to a Greengrass thing group only once the gate has passed.

With ``-c parameterPrefix=/some/path`` the gate also publishes SSM parameters and a third stack consumes them.

Everything comes from context (cdk.json holds the defaults; `cdk synth -c key=value` overrides them), read by one
parser (read_context): CONTEXT_KEYS says what each key takes. A bad value stops the synth with one line per key,
naming the key, its value and what it takes.

By default the gate watches a job started elsewhere (``jobName``). With ``-c startJob=true`` the stack starts the job
itself: every argument of GreengrassPackaging has a key (PackagingSettings), the component is
``expectedComponentName``, and the job name is derived from the component name and version. Watching is the default
because deploying the example as it is must not start a packaging job (and create a Greengrass component version that
outlives the stack) in whatever account the caller's credentials reach; starting is one flag away once the bucket is
yours.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_greengrassv2 as greengrassv2
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from cdk_lookoutvision_packaging import (
    GreengrassPackaging,
    ModelPackagingJob,
    ModelPackagingJobReference,
    TargetPlatform,
)
from cdk_lookoutvision_packaging_handler import contract

EDGE_AGENT_COMPONENT = "aws.iot.lookoutvision.EdgeAgent"


class ContextError(ValueError):
    """Context values the app cannot use, one line each: the key, its value as given, and what the key takes."""


# A parser of one context value: what cdk.json (any JSON value) or -c (a string) gives, turned into the app's value,
# or a ValueError saying what the key takes.
Parse = Callable[[object], Any]


def text_value(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("it takes a string")
    return str(value)


def _rule(rule: contract.NameRule) -> Parse:
    """A name or version checked against the API's own rule (the one the construct and the handler apply)."""

    def parse(value: object) -> str:
        text = text_value(value)
        problem = rule.problem(text)
        if problem:
            raise ValueError(problem)
        return text

    return parse


def _one_of(choices: tuple[str, ...]) -> Parse:
    def parse(value: object) -> str:
        text = text_value(value)
        if text not in choices:
            raise ValueError(f"it takes one of {', '.join(choices)}")
        return text

    return parse


def _boolean(value: object) -> bool:
    # cdk.json gives a JSON boolean, -c the string: anything else is a mistake, not false.
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise ValueError("it takes true or false")


MINUTES = (contract.MIN_WAIT_TIMEOUT_S // 60, contract.MAX_WAIT_TIMEOUT_S // 60)


def _minutes(value: object) -> int:
    text = value if isinstance(value, str) else str(value) if isinstance(value, int) and value is not True else ""
    if value is False or not re.fullmatch(r"[0-9]+", text) or not MINUTES[0] <= int(text) <= MINUTES[1]:
        raise ValueError(f"it takes a whole number of minutes from {MINUTES[0]} to {MINUTES[1]}")
    return int(text)


PLATFORMS = [
    f"{os_name}/{arch}{accelerator}".lower()
    for os_name in contract.TARGET_OS
    for accelerator in ("", *(f"/{a}" for a in contract.TARGET_ACCELERATORS))
    for arch in contract.TARGET_ARCHS
]


def _platform(value: object) -> TargetPlatform:
    """``linux/x86_64`` or ``linux/arm64/nvidia`` as a TargetPlatform."""
    parts = text_value(value).upper().split("/")
    if "/".join(parts).lower() not in PLATFORMS:
        raise ValueError(f"it takes OS/ARCH or OS/ARCH/ACCELERATOR: {', '.join(PLATFORMS[:-1])} or {PLATFORMS[-1]}")
    return TargetPlatform(os=parts[0], arch=parts[1], accelerator=parts[2] if len(parts) == 3 else None)


def _json_object(takes: str, values: type = object) -> Parse:
    """A JSON object: one in cdk.json, or its text from -c."""

    def parse(value: object) -> dict[str, Any]:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                value = None
        if not isinstance(value, dict) or not all(isinstance(v, values) for v in value.values()):
            raise ValueError(f"it takes {takes}")
        return value

    return parse


# Every context key the app reads, and how. Keys not given (or given as "") are None.
CONTEXT_KEYS: dict[str, Parse] = {
    # The job: ModelPackagingJob's project_name, job_name (watching), expected_component_name and wait_timeout.
    "projectName": _rule(contract.PROJECT_NAME_RULE),
    "jobName": _rule(contract.JOB_NAME_RULE),
    "expectedComponentName": _rule(contract.COMPONENT_NAME_RULE),
    "waitTimeoutMinutes": _minutes,
    # Starting the job: startJob, then GreengrassPackaging's arguments (component_name is expectedComponentName).
    "startJob": _boolean,
    "modelVersion": _rule(contract.MODEL_VERSION_RULE),
    "outputBucketName": _rule(contract.BUCKET_RULE),
    "outputPrefix": _rule(contract.PREFIX_RULE),
    "componentVersion": _rule(contract.COMPONENT_VERSION_RULE),
    "targetDevice": _one_of(contract.TARGET_DEVICES),
    "targetPlatform": _platform,
    "compilerOptions": _json_object('a JSON object such as {"mcpu": "skylake-avx512"}'),
    "componentDescription": text_value,
    "componentTags": _json_object('a JSON object of tag names to strings, such as {"team": "vision"}', str),
    "jobDescription": text_value,
    # The consumers: SSM parameters and their consumer stack, and the Greengrass deployment.
    "parameterPrefix": text_value,
    "thingGroupArn": text_value,
    "thingGroupName": text_value,
    "edgeAgentVersion": _rule(contract.COMPONENT_VERSION_RULE),
}


def read_context(app: cdk.App, keys: Mapping[str, Parse] = CONTEXT_KEYS) -> dict[str, Any]:
    """Every key of ``keys`` parsed, or one ContextError with a line for each bad value."""
    values: dict[str, Any] = {}
    problems = []
    for key, parse in keys.items():
        raw = app.node.try_get_context(key)
        if raw is None or raw == "":
            values[key] = None
            continue
        try:
            values[key] = parse(raw)
        except ValueError as error:
            problems.append(f"Context value {key}={json.dumps(raw)}: {error}")
    if problems:
        raise ContextError("\n".join(problems))
    return values


# GreengrassPackaging's arguments whose context key is not their own name in camelCase.
CONTEXT_KEY_OF = {
    "component_name": "expectedComponentName",
    "output_bucket": "outputBucketName",
    "tags": "componentTags",
}


def context_key(argument: str) -> str:
    head, *words = argument.split("_")
    return CONTEXT_KEY_OF.get(argument, head + "".join(word.title() for word in words))


@dataclass(frozen=True)
class PackagingSettings:
    """GreengrassPackaging's arguments from context, each from its context_key: what the gate stack starts with
    ``-c startJob=true``. The bucket is a name until a stack imports it."""

    output_bucket_name: str
    arguments: Mapping[str, Any]

    @classmethod
    def from_context(cls, values: Mapping[str, Any]) -> PackagingSettings:
        missing = [key for key in ("expectedComponentName", "outputBucketName", "modelVersion") if not values[key]]
        if missing:
            raise ContextError(
                f"startJob=true needs the context values {', '.join(missing)} (expectedComponentName names the "
                "component the job creates)"
            )
        names = [field.name for field in fields(GreengrassPackaging) if field.name != "output_bucket"]
        arguments = {name: values[context_key(name)] for name in names}
        if arguments["target_platform"]:
            # -c targetPlatform=... replaces cdk.json's default device.
            arguments["target_device"] = None
        return cls(values["outputBucketName"], arguments)

    def packaging(self, scope: Construct) -> GreengrassPackaging:
        bucket = s3.Bucket.from_bucket_name(scope, "OutputBucket", self.output_bucket_name)
        return GreengrassPackaging(output_bucket=bucket, **self.arguments)


class ModelGateStack(cdk.Stack):
    """Fails the deployment unless the packaging job SUCCEEDED, and publishes what it produced.

    ``context`` is read_context's values. With ``packaging`` the stack starts the job (``self.packaging``): the
    component is packaging's, and the job name follows from it; otherwise it watches ``jobName``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        context: Mapping[str, Any],
        packaging: PackagingSettings | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.packaging = packaging.packaging(self) if packaging is not None else None
        timeout = context["waitTimeoutMinutes"]
        self.job = ModelPackagingJob(
            self,
            "ModelPackagingJob",
            project_name=context["projectName"],
            job_name=None if packaging else context["jobName"],
            packaging=self.packaging,
            expected_component_name=None if packaging else context["expectedComponentName"],
            wait_timeout=cdk.Duration.minutes(timeout) if timeout else None,
        )
        # Outputs ModelPackagingJobComponentVersionArn, ...ComponentName, ...ComponentVersion, ...Status and
        # ...ModelVersion: what the edge stack and pipelines read.
        self.job.add_outputs()


class EdgeDeploymentStack(cdk.Stack):
    """A Greengrass V2 deployment of the packaged model and the Lookout for Vision Edge Agent to a thing group.

    It reads the gate stack's outputs with Fn::GetStackOutput (no export lock-in), so it cannot be created with a
    model that did not package: the gate stack would have failed first, and this stack deploys after it.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        gate_stack_name: str,
        expected_component_name: str,
        thing_group_arn: str,
        edge_agent_version: str,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        model = ModelPackagingJobReference.from_stack_output(
            self, "Model", stack_name=gate_stack_name, expected_component_name=expected_component_name
        )
        spec = greengrassv2.CfnDeployment.ComponentDeploymentSpecificationProperty
        self.deployment = greengrassv2.CfnDeployment(
            self,
            "Deployment",
            target_arn=thing_group_arn,
            deployment_name=f"{expected_component_name}-model",
            components={
                **model.greengrass_component(),
                EDGE_AGENT_COMPONENT: spec(component_version=edge_agent_version),
            },
            deployment_policies=greengrassv2.CfnDeployment.DeploymentPoliciesProperty(
                # A device that cannot run the new model goes back to the last good one.
                failure_handling_policy="ROLLBACK",
                component_update_policy=greengrassv2.CfnDeployment.DeploymentComponentUpdatePolicyProperty(
                    action="NOTIFY_COMPONENTS", timeout_in_seconds=120
                ),
                configuration_validation_policy=greengrassv2.CfnDeployment.DeploymentConfigurationValidationPolicyProperty(
                    timeout_in_seconds=120
                ),
            ),
            iot_job_configuration=greengrassv2.CfnDeployment.DeploymentIoTJobConfigurationProperty(
                job_executions_rollout_config=greengrassv2.CfnDeployment.IoTJobExecutionsRolloutConfigProperty(
                    maximum_per_minute=50
                ),
                # Stop the rollout when a fifth of the first devices fail.
                abort_config=greengrassv2.CfnDeployment.IoTJobAbortConfigProperty(
                    criteria_list=[
                        greengrassv2.CfnDeployment.IoTJobAbortCriteriaProperty(
                            action="CANCEL",
                            failure_type="FAILED",
                            min_number_of_executed_things=5,
                            threshold_percentage=20,
                        )
                    ]
                ),
            ),
        )
        cdk.CfnOutput(self, "DeploymentId", value=self.deployment.attr_deployment_id)


class ModelConsumerStack(cdk.Stack):
    """Reads the gate the two ways a consumer in another stack can: the SSM parameters the gate published
    (``from_parameters``) and the gate stack's outputs (``from_stack_output``), and keeps what it read in SSM
    parameters of its own (under ``<parameter_prefix>/consumer``), so a deployed stack shows what it received."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        gate_stack_name: str,
        parameter_prefix: str,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        readers = {
            "FromParameters": ModelPackagingJobReference.from_parameters(
                self, "FromParameters", parameter_prefix=parameter_prefix
            ),
            "FromStackOutput": ModelPackagingJobReference.from_stack_output(
                self, "FromStackOutput", stack_name=gate_stack_name
            ),
        }
        for name, model in readers.items():
            ssm.StringParameter(
                self,
                f"{name}Parameter",
                parameter_name=f"{parameter_prefix}/consumer/{name}/ComponentVersionArn",
                string_value=model.component_version_arn,
            )
            cdk.CfnOutput(self, f"{name}ComponentVersionArn", value=model.component_version_arn)


def build_app(app: cdk.App | None = None) -> cdk.App:
    app = app or cdk.App()
    context = read_context(app)
    project_name, job_name, expected = context["projectName"], context["jobName"], context["expectedComponentName"]
    packaging = PackagingSettings.from_context(context) if context["startJob"] else None
    if not project_name or not (job_name or packaging):
        raise ContextError(
            "Set the context values projectName and jobName (cdk.json holds defaults; -c overrides them), or "
            "startJob=true to start the job"
        )
    gate = ModelGateStack(
        app,
        "LookoutVisionModelGate",
        context=context,
        packaging=packaging,
        description="Gates deployments on a Lookout for Vision model packaging job (cdk-lookoutvision-packaging)",
    )
    # -c parameterPrefix=/lookoutvision/pcb: the gate also publishes SSM parameters, and a consumer stack reads them.
    parameter_prefix = context["parameterPrefix"]
    if parameter_prefix:
        gate.job.publish_parameters(parameter_prefix)
        consumer = ModelConsumerStack(
            app,
            "LookoutVisionModelConsumer",
            gate_stack_name=gate.stack_name,
            parameter_prefix=parameter_prefix,
            description="Reads the Lookout for Vision model gate's SSM parameters and outputs",
        )
        # Neither SSM parameters nor Fn::GetStackOutput carry a dependency of their own: deploy the gate first.
        consumer.add_stack_dependency(gate)
    thing_group_arn, thing_group_name = context["thingGroupArn"], context["thingGroupName"]
    if expected and (thing_group_arn or thing_group_name):
        edge = EdgeDeploymentStack(
            app,
            "LookoutVisionEdgeDeployment",
            gate_stack_name=gate.stack_name,
            expected_component_name=expected,
            thing_group_arn=thing_group_arn
            or cdk.Arn.format(
                cdk.ArnComponents(service="iot", resource="thinggroup", resource_name=thing_group_name), gate
            ),
            edge_agent_version=context["edgeAgentVersion"] or "1.2.0",
            description="Ships the packaged Lookout for Vision model to Greengrass devices",
        )
        # Fn::GetStackOutput carries no dependency of its own: deploy the gate first.
        edge.add_stack_dependency(gate)
    return app


def synth(build: Callable[[], cdk.App]) -> None:
    """Synthesize the app ``build`` makes; a ContextError ends the synth with its lines alone."""
    try:
        build().synth()
    except ContextError as error:
        # One line per bad value is the whole message: a traceback would bury it.
        raise SystemExit(f"{error}") from None


if __name__ == "__main__":
    synth(build_app)
