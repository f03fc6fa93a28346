"""Every consumer path of a ModelPackagingJob: outputs and exports, Fn::GetStackOutput, SSM parameters, and the gated
Greengrass deployment (in one stack and across stacks). The CDK Pipelines example is tests/app/test_pipeline_app.py."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_greengrassv2 as greengrassv2
from aws_cdk.assertions import Template
from constructs import Construct

from cdk_lookoutvision_packaging import ModelPackagingJob, ModelPackagingJobReference

if TYPE_CHECKING:
    from conftest import Only

PUBLISHED = ["ComponentVersionArn", "ComponentName", "ComponentVersion", "Status", "ModelVersion"]


def _job(stack: cdk.Stack, expected: str | None = "com.example.pcb-defects", **options: Any) -> ModelPackagingJob:
    return ModelPackagingJob(
        stack,
        "ModelPackagingJob",
        project_name="pcb",
        job_name="pcb-v3-x86",
        expected_component_name=expected,
        **options,
    )


@pytest.mark.parametrize(
    ("options", "prefix"), [({"export_prefix": "pcb-model"}, "ModelPackagingJob"), ({"output_prefix": "Pcb"}, "Pcb")]
)
def test_add_outputs_have_documented_logical_ids_and_optional_exports(
    only: Only, options: dict[str, str], prefix: str
) -> None:
    stack = cdk.Stack(cdk.App(), "Gate")
    _job(stack).add_outputs(**options)
    cr_id, _ = only(stack)
    outputs = Template.from_stack(stack).to_json()["Outputs"]
    assert sorted(outputs) == sorted(f"{prefix}{key}" for key in PUBLISHED)
    for key in PUBLISHED:
        assert outputs[f"{prefix}{key}"]["Value"] == {"Fn::GetAtt": [cr_id, key]}
        export = {"Name": f"pcb-model-{key}"} if "export_prefix" in options else None
        assert outputs[f"{prefix}{key}"].get("Export") == export
    with pytest.raises(ValueError, match="letters and digits"):
        _job(cdk.Stack(cdk.App(), "Other")).add_outputs(output_prefix="bad-prefix")


# From another Region, or through another account's role, the reference passes both on to Fn::GetStackOutput; an
# expected component's name is a literal, which a deployment can use as its map key.
ELSEWHERE = {
    "region": "eu-west-1",
    "role_arn": "arn:aws:iam::111122223333:role/ReadGateOutputs",
    "expected_component_name": "com.example.pcb-defects",
}


@pytest.mark.parametrize(("construct_id", "where"), [("Job", {}), ("ModelPackagingJob", {}), ("pcb-v3-x86", ELSEWHERE)])
def test_default_output_prefix_is_what_from_stack_output_reads_whatever_the_construct_id(
    only: Only, construct_id: str, where: dict[str, str]
) -> None:
    app = cdk.App()
    producer = cdk.Stack(app, "Gate")
    ModelPackagingJob(producer, construct_id, project_name="pcb", job_name="pcb-v3-x86").add_outputs()
    consumer = cdk.Stack(app, "Consumer")
    ref = ModelPackagingJobReference.from_stack_output(consumer, "Model", stack_name="Gate", **where)
    for key in PUBLISHED:
        # The attribute of each key is its name in snake case: ComponentVersionArn is component_version_arn.
        cdk.CfnOutput(consumer, key, value=getattr(ref, re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()))
    cr_id, _ = only(producer)
    outputs = Template.from_stack(producer).to_json()["Outputs"]
    elsewhere = {"Region": where["region"], "RoleArn": where["role_arn"]} if where else {}
    for key, output in Template.from_stack(consumer).to_json()["Outputs"].items():
        if key == "ComponentName" and where:
            assert output["Value"] == "com.example.pcb-defects"
            continue
        read = output["Value"]["Fn::GetStackOutput"]
        assert read == {"StackName": "Gate", "OutputName": read["OutputName"], **elsewhere}
        assert outputs[read["OutputName"]]["Value"] == {"Fn::GetAtt": [cr_id, key]}
    with pytest.raises(ValueError, match="stack name"):
        ModelPackagingJobReference.from_stack_output(consumer, "Bad", stack_name="not a stack")


def _two_jobs(first: str = "Line1/Job", second: str = "Line2/Job") -> tuple[ModelPackagingJob, ModelPackagingJob]:
    stack = cdk.Stack(cdk.App(), "Gate")
    jobs = []
    for n, path in enumerate((first, second), start=1):
        parent, _, name = path.rpartition("/")
        scope = Construct(stack, parent) if parent else stack
        jobs.append(ModelPackagingJob(scope, name, project_name="pcb", job_name=f"job-{n}"))
    return jobs[0], jobs[1]


@pytest.mark.parametrize(
    ("paths", "prefix", "shown"),
    [
        (("A", "B"), None, "the default output_prefix 'ModelPackagingJob'"),
        (("Line1/Job", "Line2/Job"), None, "the default output_prefix 'ModelPackagingJob'"),
        (("Line1/Job", "Line2/Job"), "Job", "output_prefix 'Job'"),
    ],
    ids=["default-prefix", "same-id-other-parents", "same-explicit-prefix"],
)
def test_two_jobs_of_a_stack_with_one_output_prefix_are_refused_naming_output_prefix(
    paths: tuple[str, str], prefix: str | None, shown: str
) -> None:
    first, second = _two_jobs(*paths)
    first.add_outputs(output_prefix=prefix)
    with pytest.raises(ValueError) as raised:
        second.add_outputs(output_prefix=prefix)
    message = str(raised.value)
    assert f"add_outputs() on Gate/{paths[1]}: {shown}" in message
    assert f"which Gate/{paths[0]} already publishes" in message
    assert "pass add_outputs(output_prefix=...)" in message and "from_stack_output()" in message
    # With a prefix of its own, the second job publishes beside the first, once.
    second.add_outputs(output_prefix="Second")
    with pytest.raises(ValueError, match=rf"add_outputs\(\) was already called on Gate/{paths[1]}"):
        second.add_outputs(output_prefix="Third", export_prefix="pcb-model")
    outputs = Template.from_stack(cdk.Stack.of(first)).to_json()["Outputs"]
    assert sorted(outputs) == sorted(
        [f"{prefix or 'ModelPackagingJob'}{k}" for k in PUBLISHED] + [f"Second{k}" for k in PUBLISHED]
    )


def test_publish_and_read_ssm_parameters(only: Only) -> None:
    app = cdk.App()
    producer = cdk.Stack(app, "Gate")
    _job(producer).publish_parameters("/lookoutvision/pcb/pcb-v3-x86")
    consumer = cdk.Stack(app, "Consumer")
    ref = ModelPackagingJobReference.from_parameters(
        consumer, "Model", parameter_prefix="/lookoutvision/pcb/pcb-v3-x86"
    )
    cdk.CfnOutput(consumer, "Arn", value=ref.component_version_arn)

    cr_id, _ = only(producer)
    template = Template.from_stack(producer)
    template.resource_count_is("AWS::SSM::Parameter", len(PUBLISHED))
    for key in PUBLISHED:
        template.has_resource_properties(
            "AWS::SSM::Parameter",
            {"Name": f"/lookoutvision/pcb/pcb-v3-x86/{key}", "Type": "String", "Value": {"Fn::GetAtt": [cr_id, key]}},
        )
    consumer_json = Template.from_stack(consumer).to_json()
    ssm_params = {
        name: p
        for name, p in consumer_json["Parameters"].items()
        if p["Type"].startswith("AWS::SSM::Parameter::Value") and p["Default"].startswith("/lookoutvision/")
    }
    assert [p["Default"] for p in ssm_params.values()] == ["/lookoutvision/pcb/pcb-v3-x86/ComponentVersionArn"]
    assert consumer_json["Outputs"]["Arn"]["Value"] == {"Ref": next(iter(ssm_params))}


def _token(stack: cdk.Stack) -> str:
    return cdk.CfnParameter(stack, "Prefix", type="String").value_as_string


@pytest.mark.parametrize("side", ["publish_parameters", "from_parameters"])
@pytest.mark.parametrize("prefix", ["no-leading-slash", "/trailing/", "/with space", "/", _token])
def test_a_bad_parameter_prefix_is_refused_on_either_side_saying_what_it_must_be(side: str, prefix: Any) -> None:
    stack = cdk.Stack(cdk.App(), "Gate")
    given = prefix(stack) if callable(prefix) else prefix
    with pytest.raises(ValueError) as raised:
        if side == "publish_parameters":
            _job(stack).publish_parameters(given)
        else:
            ModelPackagingJobReference.from_parameters(stack, "Model", parameter_prefix=given)
    message = str(raised.value)
    assert message.startswith(f"parameter_prefix {given!r} "), message
    if callable(prefix):
        assert "is a token; it must be a literal path known at synth time, such as /lookoutvision/pcb/" in message
        assert "Build the prefix from context or other Python values" in message
    else:
        assert "must be a path like /lookoutvision/pcb/job-1: it starts with '/'" in message


CONSUMERS = {
    "add_outputs()": lambda job: job.add_outputs(),
    "publish_parameters()": lambda job: job.publish_parameters("/lookoutvision/pcb/j1"),
    "greengrass_component()": lambda job: job.greengrass_component(),
    "ModelPackagingJobReference.from_job()": lambda job: ModelPackagingJobReference.from_job(
        cdk.Stack(cdk.Stack.of(job).node.scope, "Edge"), "Model", job
    ),
}


@pytest.mark.parametrize("consumer", CONSUMERS)
def test_every_way_to_consume_a_job_refuses_one_that_does_not_wait(consumer: str) -> None:
    # A consumer of a job that does not wait could deploy with an empty component version, or with one from a job
    # that FAILED later.
    stack = cdk.Stack(cdk.App(), "Gate")
    job = _job(stack, wait_for_completion=False)
    with pytest.raises(ValueError) as raised:
        CONSUMERS[consumer](job)
    message = str(raised.value)
    assert f"{consumer} on Gate/ModelPackagingJob needs wait_for_completion=True" in message
    assert "ComponentVersionArn, ComponentName, ComponentVersion and ModelVersion can be empty" in message
    assert "Create the job with wait_for_completion=True" in message
    assert "Outputs" not in Template.from_stack(stack).to_json()
    assert not Template.from_stack(stack).find_resources("AWS::SSM::Parameter")


def test_greengrass_component_requires_expected_component_name() -> None:
    job = _job(cdk.Stack(cdk.App(), "Gate"), expected=None)
    with pytest.raises(ValueError, match="cannot use Fn::GetAtt as a map key"):
        job.greengrass_component()


@pytest.mark.parametrize("where", ["ModelPackagingJob", "from_stack_output", "from_parameters"])
def test_a_token_expected_component_name_is_refused_where_it_is_given(where: str) -> None:
    stack = cdk.Stack(cdk.App(), "Edge")
    name = cdk.CfnParameter(stack, "ComponentName", type="String").value_as_string
    with pytest.raises(ValueError) as raised:
        if where == "ModelPackagingJob":
            ModelPackagingJob(stack, "Job", project_name="pcb", job_name="j1", expected_component_name=name)
        elif where == "from_stack_output":
            ModelPackagingJobReference.from_stack_output(
                stack, "Model", stack_name="Gate", expected_component_name=name
            )
        else:
            ModelPackagingJobReference.from_parameters(
                stack, "Model", parameter_prefix="/lookoutvision/pcb/j1", expected_component_name=name
            )
    message = str(raised.value)
    assert message.startswith(f"expected_component_name {name!r} is a token")
    assert "AWS::GreengrassV2::Deployment.Components is a map keyed by component name" in message
    assert "a map key cannot be a token" in message
    assert "not a CfnParameter" in message
    assert "CfnJson" not in message
    assert stack.node.try_find_child("Job") is None and stack.node.try_find_child("Model") is None


def _deployment(stack: cdk.Stack, components: dict[str, object]) -> greengrassv2.CfnDeployment:
    return greengrassv2.CfnDeployment(
        stack, "Deployment", target_arn="arn:aws:iot:us-east-1:123456789012:thinggroup/stations", components=components
    )


def test_a_greengrass_deployment_is_gated_by_the_job_in_its_own_stack_and_across_stacks(only: Only) -> None:
    app = cdk.App()
    gate, edge = cdk.Stack(app, "Gate"), cdk.Stack(app, "Edge")
    job = _job(gate)
    _deployment(gate, job.greengrass_component())
    _deployment(edge, ModelPackagingJobReference.from_job(edge, "Model", job).greengrass_component())
    assembly = app.synth()
    cr_id, _ = only(gate)
    version = {"Fn::GetAtt": [cr_id, "ComponentVersion"]}
    # In another stack the component version is an export of the custom resource's GetAtt: Edge deploys after Gate.
    outputs = Template.from_stack(gate).to_json()["Outputs"].values()
    (export,) = [output["Export"]["Name"] for output in outputs if output["Value"] == version]
    for stack, read in ((gate, version), (edge, {"Fn::ImportValue": export})):
        Template.from_stack(stack).has_resource_properties(
            "AWS::GreengrassV2::Deployment", {"Components": {"com.example.pcb-defects": {"ComponentVersion": read}}}
        )
    assert "Gate" in [d.id for d in assembly.get_stack_by_name("Edge").dependencies]
