#!/usr/bin/env python3
"""The example CDK app: a gate stack that waits for a Lookout for Vision model packaging job on `cdk deploy`, and an
edge stack that ships the packaged model to a Greengrass thing group only once the gate has passed.

With ``-c parameterPrefix=/some/path`` the gate also publishes SSM parameters and a third stack consumes them.

Names come from context (cdk.json holds the defaults); override them with `cdk synth -c projectName=... -c jobName=...`.

By default the gate watches a job started elsewhere (``jobName``). With ``-c startJob=true`` the stack starts the job
itself (GreengrassPackaging): ``modelVersion``, ``expectedComponentName`` (the component), ``outputBucketName``,
``outputPrefix`` and ``targetDevice`` (or ``targetPlatform`` such as ``linux/x86_64``) say what to package, and the
job name is derived from the component name and version. Watching is the default because deploying the example as it
is must not start a packaging job (and create a Greengrass component version that outlives the stack) in whatever
account the caller's credentials reach; starting is one flag away once the bucket is yours.
"""

from __future__ import annotations

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

EDGE_AGENT_COMPONENT = "aws.iot.lookoutvision.EdgeAgent"


class ModelGateStack(cdk.Stack):
    """Fails the deployment unless the packaging job SUCCEEDED, and publishes what it produced."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        project_name: str,
        job_name: str | None = None,
        expected_component_name: str | None = None,
        packaging: dict[str, str] | None = None,
        wait_timeout: cdk.Duration | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        started = None
        if packaging is not None:
            # The stack starts the job: the component is packaging's, and the job name follows from it.
            started = GreengrassPackaging(
                model_version=packaging["modelVersion"],
                component_name=str(expected_component_name),
                output_bucket=s3.Bucket.from_bucket_name(self, "OutputBucket", packaging["outputBucketName"]),
                output_prefix=packaging.get("outputPrefix"),
                target_device=packaging.get("targetDevice"),
                target_platform=_platform(packaging.get("targetPlatform")),
            )
            job_name, expected_component_name = None, None
        self.job = ModelPackagingJob(
            self,
            "ModelPackagingJob",
            project_name=project_name,
            job_name=job_name,
            packaging=started,
            expected_component_name=expected_component_name,
            wait_timeout=wait_timeout,
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


def _context(app: cdk.App, key: str) -> str | None:
    value = app.node.try_get_context(key)
    return None if value in (None, "") else str(value)


def _platform(text: str | None) -> TargetPlatform | None:
    """``linux/x86_64`` or ``linux/arm64/nvidia`` as a TargetPlatform."""
    if text is None:
        return None
    os_name, arch, *accelerator = text.upper().split("/")
    return TargetPlatform(os=os_name, arch=arch, accelerator=accelerator[0] if accelerator else None)


PACKAGING_CONTEXT = ("modelVersion", "outputBucketName", "outputPrefix", "targetDevice", "targetPlatform")


def build_app(app: cdk.App | None = None) -> cdk.App:
    app = app or cdk.App()
    project_name = _context(app, "projectName")
    job_name = _context(app, "jobName")
    start = (_context(app, "startJob") or "false").lower() == "true"
    expected = _context(app, "expectedComponentName")
    packaging = None
    if start:
        packaging = {key: value for key in PACKAGING_CONTEXT if (value := _context(app, key)) is not None}
        missing = [key for key in ("modelVersion", "outputBucketName") if key not in packaging]
        if not project_name or not expected or missing:
            raise SystemExit(
                "startJob=true needs the context values projectName, expectedComponentName (the component to "
                f"create), modelVersion and outputBucketName (missing: {', '.join(missing) or 'none'})"
            )
        if "targetPlatform" in packaging:
            packaging.pop("targetDevice", None)  # -c targetPlatform=... replaces cdk.json's default device
    elif not project_name or not job_name:
        raise SystemExit("Set the context values projectName and jobName (cdk.json holds defaults; -c overrides them)")
    timeout = _context(app, "waitTimeoutMinutes")
    gate = ModelGateStack(
        app,
        "LookoutVisionModelGate",
        project_name=project_name,
        job_name=job_name,
        expected_component_name=expected,
        packaging=packaging,
        wait_timeout=cdk.Duration.minutes(int(timeout)) if timeout else None,
        description="Gates deployments on a Lookout for Vision model packaging job (cdk-lookoutvision-packaging)",
    )
    # -c parameterPrefix=/lookoutvision/pcb: the gate also publishes SSM parameters, and a consumer stack reads them.
    parameter_prefix = _context(app, "parameterPrefix")
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
    thing_group_arn = _context(app, "thingGroupArn")
    thing_group_name = _context(app, "thingGroupName")
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
            edge_agent_version=_context(app, "edgeAgentVersion") or "1.2.0",
            description="Ships the packaged Lookout for Vision model to Greengrass devices",
        )
        # Fn::GetStackOutput carries no dependency of its own: deploy the gate first.
        edge.add_stack_dependency(gate)
    return app


if __name__ == "__main__":
    build_app().synth()
