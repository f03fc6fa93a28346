#!/usr/bin/env python3
"""integ-runner app: a gate stack (one ModelPackagingJob, its outputs and SSM parameters) and a consumer stack that
reads it both ways, so a change to either synthesized template shows up as a snapshot diff in review.

`make test` runs `integ-runner` on it in snapshot mode (asset hashes left out of the comparison); after an intended
change, `make integ-update` rewrites the snapshot in tests/integ_model_packaging_job.py.snapshot.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ssm as ssm
from aws_cdk.integ_tests_alpha import ExpectedResult, IntegTest

from cdk_lookoutvision_packaging import ModelPackagingJob, ModelPackagingJobReference

PARAMETER_PREFIX = "/integ/lookoutvision/pcb"

app = cdk.App()
gate = cdk.Stack(app, "IntegModelGate")
job = ModelPackagingJob(
    gate,
    "ModelPackagingJob",
    project_name="pcb",
    job_name="pcb-v3-x86",
    expected_component_name="com.example.pcb-defects",
    wait_timeout=cdk.Duration.minutes(45),
)
job.add_outputs()
job.publish_parameters(PARAMETER_PREFIX)

consumer = cdk.Stack(app, "IntegModelConsumer")
consumer.add_stack_dependency(gate)
for name, model in {
    "FromParameters": ModelPackagingJobReference.from_parameters(
        consumer, "FromParameters", parameter_prefix=PARAMETER_PREFIX
    ),
    "FromStackOutput": ModelPackagingJobReference.from_stack_output(
        consumer, "FromStackOutput", stack_name=gate.stack_name
    ),
}.items():
    ssm.StringParameter(
        consumer,
        f"{name}Parameter",
        parameter_name=f"{PARAMETER_PREFIX}/consumer/{name}/ComponentVersionArn",
        string_value=model.component_version_arn,
    )

integ = IntegTest(app, "ModelPackagingJobIntegTest", test_cases=[gate, consumer])
# After both stacks deployed: the consumer wrote what it read from the gate's parameters.
integ.assertions.aws_api_call(
    "SSM", "getParameter", {"Name": f"{PARAMETER_PREFIX}/consumer/FromParameters/ComponentVersionArn"}
).expect(ExpectedResult.object_like({"Parameter": {"Type": "String"}}))
app.synth()
