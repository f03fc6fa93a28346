#!/usr/bin/env python3
"""A CDK Pipelines example: one stage deploys the gate stack and then the edge deployment stack, and a pre-step
runs the pipeline gate CLI so the stage does not start until the model packaging job SUCCEEDED.

Synthesize it with `cdk synth --app "python3 examples/pipeline_app.py"`: its own Synth step does the same, so
that the cloud assembly holds this pipeline stack (for self-mutation) and the Production stage's templates. Context:
repository (owner/name), branch, connectionArn (a CodeStar connection), plus the example app's projectName,
jobName, ... from cdk.json.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import pipelines
from constructs import Construct

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import EdgeDeploymentStack, ModelGateStack

WAIT_STEP_ID = "WaitForModelPackagingJob"
ASSEMBLY_DIR = "cdk.out"
# `make synth` would synthesize cdk.json's app.py, which holds no pipeline: self-mutation would fail and the stage's
# templates would be missing. So the step sets up the pinned tools and synthesizes this file with them.
SYNTH_COMMANDS = [
    "make setup",
    'PATH="$PWD/node_modules/.bin:$PWD/.venv/bin:$PATH" '
    f'cdk synth --quiet --no-notices --app "python examples/pipeline_app.py" --output {ASSEMBLY_DIR}',
]
# The gate needs only the CLI, which needs only botocore (pinned by requirements.txt) and this package's own code and
# service model; --no-deps keeps aws-cdk-lib and its jsii runtime out of the step.
GATE_INSTALL_COMMANDS = [
    "python -m pip install --constraint requirements.txt botocore",
    "python -m pip install --no-deps .",
]
# The Region of the gate stack, where the custom resource would describe the job too.
GATE_REGION_VARIABLE = "MODEL_PACKAGING_JOB_REGION"


class ModelDeliveryStage(cdk.Stage):
    """The gate stack followed by the edge deployment stack."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: dict[str, str], **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.gate = gate = ModelGateStack(
            self,
            "ModelGate",
            project_name=settings["projectName"],
            job_name=settings["jobName"],
            expected_component_name=settings["expectedComponentName"],
        )
        edge = EdgeDeploymentStack(
            self,
            "EdgeDeployment",
            gate_stack_name=gate.stack_name,
            expected_component_name=settings["expectedComponentName"],
            thing_group_arn=cdk.Arn.format(
                cdk.ArnComponents(service="iot", resource="thinggroup", resource_name=settings["thingGroupName"]),
                gate,
            ),
            edge_agent_version=settings["edgeAgentVersion"],
        )
        edge.add_stack_dependency(gate)


class PipelineStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: dict[str, str], **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        source = pipelines.CodePipelineSource.connection(
            settings["repository"], settings["branch"], connection_arn=settings["connectionArn"]
        )
        pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            pipeline_type=codepipeline.PipelineType.V2,
            synth=pipelines.ShellStep(
                "Synth", input=source, commands=SYNTH_COMMANDS, primary_output_directory=ASSEMBLY_DIR
            ),
        )
        stage = ModelDeliveryStage(self, "Production", settings=settings)
        wait = " ".join(
            [
                "python -m cdk_lookoutvision_packaging wait",
                f"--project-name {shlex.quote(settings['projectName'])}",
                f"--job-name {shlex.quote(settings['jobName'])}",
                f'--region "${GATE_REGION_VARIABLE}"',
                "--timeout 45m",
            ]
        )
        gate_step = pipelines.CodeBuildStep(
            WAIT_STEP_ID,
            input=source,
            commands=[*GATE_INSTALL_COMMANDS, wait],
            env={GATE_REGION_VARIABLE: stage.gate.region},
            role_policy_statements=[
                # DescribeModelPackagingJob supports no resource types; "*" is the only resource IAM accepts for it.
                iam.PolicyStatement(actions=["lookoutvision:DescribeModelPackagingJob"], resources=["*"]),
                # wait then checks that the component version the job produced is DEPLOYABLE; which version that is,
                # only the job knows.
                iam.PolicyStatement(
                    actions=["greengrass:DescribeComponent"],
                    resources=[
                        stage.gate.format_arn(
                            service="greengrass",
                            resource="components",
                            resource_name=f"{settings['expectedComponentName']}:versions:*",
                            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                        )
                    ],
                ),
            ],
        )
        pipeline.add_stage(stage, pre=[gate_step])
        pipeline.build_pipeline()
        # CDK makes the pipeline DependsOn its role, which RoleArn's Fn::GetAtt already enforces (cfn-lint W3005).
        pipeline_resource = pipeline.pipeline.node.default_child
        role_policy = pipeline.pipeline.role.node.try_find_child("DefaultPolicy")
        if isinstance(pipeline_resource, cdk.CfnResource) and role_policy is not None:
            policy_resource = role_policy.node.default_child
            if isinstance(policy_resource, cdk.CfnResource):
                pipeline_resource.add_override("DependsOn", [self.get_logical_id(policy_resource)])


def build_pipeline_app(app: cdk.App | None = None) -> cdk.App:
    app = app or cdk.App()
    defaults = {
        "repository": "example-org/cdk-lookoutvision-packaging",
        "branch": "main",
        "connectionArn": (
            "arn:aws:codeconnections:us-east-1:123456789012:connection/00000000-0000-0000-0000-000000000000"
        ),
        "edgeAgentVersion": "1.2.0",
        "thingGroupName": "pcb-inspection-stations",
    }
    settings = {
        key: str(app.node.try_get_context(key) or defaults.get(key, ""))
        for key in (
            "repository",
            "branch",
            "connectionArn",
            "projectName",
            "jobName",
            "expectedComponentName",
            "thingGroupName",
            "edgeAgentVersion",
        )
    }
    missing = [key for key, value in settings.items() if not value]
    if missing:
        raise SystemExit(f"Set the context values {', '.join(missing)} (cdk.json holds the example's defaults)")
    PipelineStack(app, "LookoutVisionModelPipeline", settings=settings)
    return app


if __name__ == "__main__":
    build_pipeline_app().synth()
