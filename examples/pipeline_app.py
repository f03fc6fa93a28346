#!/usr/bin/env python3
"""A CDK Pipelines example: one stage deploys the gate stack and then the edge deployment stack, and a pre-step runs
the pipeline gate CLI so that the stage does not start until the model packaging job SUCCEEDED and its Greengrass
component version is DEPLOYABLE.

The stage's gate stack watches a job started elsewhere (``jobName``), or, with ``-c startJob=true``, declares the job
itself (GreengrassPackaging, from the same context keys as app.py). In that mode the pre-step is ``start --wait``
with the very configuration the stack declares: it starts the job (a ``wait`` would find no job and exit 3), waits
for it as long as the packaging takes (CloudFormation would give the stack's gate 55 minutes at most), and the stack
then adopts the SUCCEEDED job: same name, same configuration, the same client token, so no second job is ever started
and the gate passes at once. A ``wait`` after the deploy would come too late: the stack's own gate has waited by then,
and the edge stack deploys right after the gate stack, in the same stage.

Synthesize it with `cdk synth --app "python3 examples/pipeline_app.py"`: its own Synth step does the same, after
`make synth-setup` (the pinned runtime requirements, this package, the CDK CLI on the pinned Node.js; none of the test
tools), so that the cloud assembly holds this pipeline stack (for self-mutation) and the Production stage's templates.
Context: repository (owner/name), branch, connectionArn (a CodeStar connection), plus app.py's keys from cdk.json.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import pipelines
from constructs import Construct

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import (
    CONTEXT_KEYS,
    ContextError,
    EdgeDeploymentStack,
    ModelGateStack,
    PackagingSettings,
    read_context,
    synth,
    text_value,
)
from cdk_lookoutvision_packaging import GreengrassPackaging
from cdk_lookoutvision_packaging_handler import contract

WAIT_STEP_ID = "WaitForModelPackagingJob"
START_STEP_ID = "StartModelPackagingJob"
ASSEMBLY_DIR = "cdk.out"
# `make synth` would synthesize cdk.json's app.py, which holds no pipeline: self-mutation would fail and the stage's
# templates would be missing. So the step sets up what synth needs and synthesizes this file with it.
SYNTH_COMMANDS = [
    "make synth-setup",
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
GATE_TIMEOUT = "45m"
PIPELINE_KEYS = {"repository": text_value, "branch": text_value, "connectionArn": text_value}
DEFAULTS = {
    "repository": "example-org/cdk-lookoutvision-packaging",
    "branch": "main",
    "connectionArn": "arn:aws:codeconnections:us-east-1:123456789012:connection/00000000-0000-0000-0000-000000000000",
    "edgeAgentVersion": "1.2.0",
    "thingGroupName": "pcb-inspection-stations",
}


class ModelDeliveryStage(cdk.Stage):
    """The gate stack followed by the edge deployment stack."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Mapping[str, Any],
        packaging: PackagingSettings | None,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        # The stage's gate keeps the construct's default wait, whatever waitTimeoutMinutes says: the pre-step waits.
        self.gate = gate = ModelGateStack(
            self, "ModelGate", context={**settings, "waitTimeoutMinutes": None}, packaging=packaging
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


def start_arguments(project_name: str, packaging: GreengrassPackaging) -> list[str]:
    """The CLI's start arguments for the job ``packaging`` declares: every value the stack's GreengrassPackaging
    sends, in the same form, so that both send one configuration with one client token."""
    arguments = [
        *("--project-name", project_name, "--model-version", str(packaging.model_version)),
        *("--component-name", packaging.component_name),
        *("--s3-output-location", f"s3://{packaging.output_bucket.bucket_name}/{packaging.output_prefix or ''}"),
    ]
    optional: dict[str, str | None] = {
        "--component-version": packaging.component_version,
        "--target-device": packaging.target_device,
        "--target-platform": None,
        "--compiler-options": None,
        "--component-description": packaging.component_description,
        "--component-tags": json.dumps(dict(packaging.tags)) if packaging.tags else None,
        "--description": packaging.job_description,
    }
    platform = packaging.target_platform
    if platform is not None:
        optional["--target-platform"] = "/".join(p for p in (platform.os, platform.arch, platform.accelerator) if p)
    if packaging.compiler_options is not None:
        # As GreengrassPackaging writes CompilerOptions.
        optional["--compiler-options"] = json.dumps(dict(packaging.compiler_options), sort_keys=True)
    return arguments + [item for option, value in optional.items() if value is not None for item in (option, value)]


def start_statements(gate: cdk.Stack, project_name: str, packaging: GreengrassPackaging) -> list[iam.PolicyStatement]:
    """What StartModelPackagingJob needs of its caller, as narrow as the gate's own function gets it (README's table):
    the step starts the job in the function's place."""
    bucket = packaging.output_bucket
    model_version = "*" if packaging.model_version == "latest" else str(packaging.model_version)
    component = gate.format_arn(
        service="greengrass",
        resource="components",
        resource_name=packaging.component_name,
        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
    )
    version = packaging.component_version or contract.default_component_version(str(packaging.model_version))
    components = [component, f"{component}:versions:{version}"]
    model = gate.format_arn(
        service="lookoutvision",
        resource="model",
        resource_name=f"{project_name}/{model_version}",
        arn_format=cdk.ArnFormat.SLASH_RESOURCE_NAME,
    )
    statements = [
        iam.PolicyStatement(actions=["lookoutvision:StartModelPackagingJob"], resources=[model]),
        # The job writes the component's artifacts under the prefix, and the service checks where the bucket is.
        iam.PolicyStatement(
            actions=["s3:PutObject"], resources=[bucket.arn_for_objects(f"{packaging.output_prefix or ''}*")]
        ),
        iam.PolicyStatement(actions=["s3:GetBucketLocation"], resources=[bucket.bucket_arn]),
        iam.PolicyStatement(
            actions=["greengrass:CreateComponentVersion", "greengrass:DescribeComponent"], resources=components
        ),
    ]
    if packaging.tags:
        statements.append(iam.PolicyStatement(actions=["greengrass:TagResource"], resources=components))
    return statements


class PipelineStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Mapping[str, Any],
        packaging: PackagingSettings | None = None,
        **kwargs: object,
    ) -> None:
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
        stage = ModelDeliveryStage(self, "Production", settings=settings, packaging=packaging)
        project_name = settings["projectName"]
        # DescribeModelPackagingJob supports no resource types; "*" is the only resource IAM accepts for it.
        statements = [iam.PolicyStatement(actions=["lookoutvision:DescribeModelPackagingJob"], resources=["*"])]
        if stage.gate.packaging is None:
            step_id = WAIT_STEP_ID
            command = ["wait", "--project-name", project_name, "--job-name", settings["jobName"]]
            # wait then checks that the component version the job produced is DEPLOYABLE; which version that is,
            # only the job knows.
            versions = stage.gate.format_arn(
                service="greengrass",
                resource="components",
                resource_name=f"{settings['expectedComponentName']}:versions:*",
                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
            )
            statements.append(iam.PolicyStatement(actions=["greengrass:DescribeComponent"], resources=[versions]))
        else:
            step_id = START_STEP_ID
            command = ["start", *start_arguments(project_name, stage.gate.packaging), "--wait"]
            statements += start_statements(stage.gate, project_name, stage.gate.packaging)
        cli = " ".join(
            [
                "python -m cdk_lookoutvision_packaging",
                shlex.join(command),
                f'--region "${GATE_REGION_VARIABLE}"',
                f"--timeout {GATE_TIMEOUT}",
            ]
        )
        gate_step = pipelines.CodeBuildStep(
            step_id,
            input=source,
            commands=[*GATE_INSTALL_COMMANDS, cli],
            env={GATE_REGION_VARIABLE: stage.gate.region},
            role_policy_statements=statements,
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
    context = read_context(app, {**CONTEXT_KEYS, **PIPELINE_KEYS})
    settings = {key: DEFAULTS.get(key) if value is None else value for key, value in context.items()}
    packaging = PackagingSettings.from_context(settings) if settings["startJob"] else None
    needed = ["repository", "branch", "connectionArn", "projectName", "expectedComponentName", "thingGroupName"]
    missing = [key for key in [*needed, *([] if packaging else ["jobName"])] if not settings[key]]
    if missing:
        raise ContextError(f"Set the context values {', '.join(missing)} (cdk.json holds the example's defaults)")
    PipelineStack(app, "LookoutVisionModelPipeline", settings=settings, packaging=packaging)
    return app


if __name__ == "__main__":
    synth(build_pipeline_app)
