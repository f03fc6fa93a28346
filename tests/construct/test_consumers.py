"""Every consumer path of a ModelPackagingJob: outputs and exports, Fn::GetStackOutput, SSM parameters, and the gated
Greengrass deployment (in one stack and across stacks). The CDK Pipelines example is tests/app/test_pipeline_app.py."""

from __future__ import annotations

import re
from collections.abc import Callable
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


def _job(stack: cdk.Stack, construct_id: str = "ModelPackagingJob", **options: Any) -> ModelPackagingJob:
    options.setdefault("expected_component_name", "com.example.pcb-defects")
    return ModelPackagingJob(stack, construct_id, project_name="pcb", job_name="pcb-v3-x86", **options)


# From another Region, or through another account's role, the reference passes both on to Fn::GetStackOutput; an
# expected component's name is a literal, which a deployment can use as its map key.
ELSEWHERE = {
    "region": "eu-west-1",
    "role_arn": "arn:aws:iam::111122223333:role/ReadGateOutputs",
    "expected_component_name": "com.example.pcb-defects",
}


@pytest.mark.parametrize(
    ("construct_id", "outputs", "where"),
    [
        ("Job", {}, {}),
        ("ModelPackagingJob", {"export_prefix": "pcb-model"}, {}),
        ("pcb-v3-x86", {"output_prefix": "Pcb"}, {**ELSEWHERE, "output_prefix": "Pcb"}),
    ],
)
def test_from_stack_output_reads_the_outputs_of_add_outputs_by_their_documented_logical_ids(
    only: Only, construct_id: str, outputs: dict[str, str], where: dict[str, str]
) -> None:
    # The default output prefix is the same whatever the construct id: a consumer cannot know the producer's.
    app = cdk.App()
    producer = cdk.Stack(app, "Gate")
    ModelPackagingJob(producer, construct_id, project_name="pcb", job_name="pcb-v3-x86").add_outputs(**outputs)
    consumer = cdk.Stack(app, "Consumer")
    ref = ModelPackagingJobReference.from_stack_output(consumer, "Model", stack_name="Gate", **where)
    for key in PUBLISHED:
        # The attribute of each key is its name in snake case: ComponentVersionArn is component_version_arn.
        cdk.CfnOutput(consumer, key, value=getattr(ref, re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()))
    cr_id, _ = only(producer)
    published = Template.from_stack(producer).to_json()["Outputs"]
    prefix = outputs.get("output_prefix", "ModelPackagingJob")
    assert sorted(published) == sorted(f"{prefix}{key}" for key in PUBLISHED)
    elsewhere = {"Region": where["region"], "RoleArn": where["role_arn"]} if where else {}
    for key, output in Template.from_stack(consumer).to_json()["Outputs"].items():
        export = {"Name": f"pcb-model-{key}"} if "export_prefix" in outputs else None
        assert published[f"{prefix}{key}"].get("Export") == export
        assert published[f"{prefix}{key}"]["Value"] == {"Fn::GetAtt": [cr_id, key]}
        if key == "ComponentName" and where:
            assert output["Value"] == "com.example.pcb-defects"
        else:
            assert output["Value"] == {
                "Fn::GetStackOutput": {"StackName": "Gate", "OutputName": prefix + key, **elsewhere}
            }


@pytest.mark.parametrize(
    ("prefix", "shown"),
    [(None, "the default output_prefix 'ModelPackagingJob'"), ("Job", "output_prefix 'Job'")],
    ids=["default-prefix", "same-explicit-prefix"],
)
def test_two_jobs_of_a_stack_with_one_output_prefix_are_refused_naming_output_prefix(
    prefix: str | None, shown: str
) -> None:
    # The same construct id under other parents: what clashes is the output prefix, not the id.
    stack = cdk.Stack(cdk.App(), "Gate")
    first, second = (
        ModelPackagingJob(Construct(stack, f"Line{n}"), "Job", project_name="pcb", job_name=f"job-{n}") for n in (1, 2)
    )
    first.add_outputs(output_prefix=prefix)
    with pytest.raises(ValueError) as raised:
        second.add_outputs(output_prefix=prefix)
    message = str(raised.value)
    assert f"add_outputs() on Gate/Line2/Job: {shown}" in message
    assert "which Gate/Line1/Job already publishes" in message
    assert "pass add_outputs(output_prefix=...)" in message and "from_stack_output()" in message
    # With a prefix of its own, the second job publishes beside the first, once.
    second.add_outputs(output_prefix="Second")
    with pytest.raises(ValueError, match=r"add_outputs\(\) was already called on Gate/Line2/Job"):
        second.add_outputs(output_prefix="Third", export_prefix="pcb-model")
    outputs = Template.from_stack(stack).to_json()["Outputs"]
    assert sorted(outputs) == sorted(
        [f"{prefix or 'ModelPackagingJob'}{k}" for k in PUBLISHED] + [f"Second{k}" for k in PUBLISHED]
    )


def test_publish_and_read_ssm_parameters(only: Only) -> None:
    app = cdk.App()
    producer, consumer = cdk.Stack(app, "Gate"), cdk.Stack(app, "Consumer")
    prefix = "/lookoutvision/pcb/pcb-v3-x86"
    _job(producer).publish_parameters(prefix)
    ref = ModelPackagingJobReference.from_parameters(consumer, "Model", parameter_prefix=prefix)
    cdk.CfnOutput(consumer, "Arn", value=ref.component_version_arn)
    cr_id, _ = only(producer)
    template = Template.from_stack(producer)
    template.resource_count_is("AWS::SSM::Parameter", len(PUBLISHED))
    for key in PUBLISHED:
        template.has_resource_properties(
            "AWS::SSM::Parameter", {"Name": f"{prefix}/{key}", "Type": "String", "Value": {"Fn::GetAtt": [cr_id, key]}}
        )
    # The consumer reads only the key it uses, through a CloudFormation parameter of SSM's type.
    read = Template.from_stack(consumer).to_json()
    (name,) = [n for n, p in read["Parameters"].items() if p["Default"].startswith(prefix)]
    assert read["Parameters"][name] == {
        "Type": "AWS::SSM::Parameter::Value<String>",
        "Default": f"{prefix}/ComponentVersionArn",
    }
    assert read["Outputs"]["Arn"]["Value"] == {"Ref": name}


def _token(stack: cdk.Stack) -> str:
    return cdk.CfnParameter(stack, "Token", type="String").value_as_string


@pytest.fixture
def gate() -> cdk.Stack:
    """Gate/Job waits for com.example.pcb-defects; Gate/NoWait does not wait; Gate/Unnamed expects no component."""
    stack = cdk.Stack(cdk.App(), "Gate")
    _job(stack, "Job")
    _job(stack, "NoWait", wait_for_completion=False)
    _job(stack, "Unnamed", expected_component_name=None)
    return stack


def job(gate: cdk.Stack, construct_id: str = "Job") -> ModelPackagingJob:
    found = gate.node.find_child(construct_id)
    assert isinstance(found, ModelPackagingJob)
    return found


def _reference(factory: str, **arguments: Any) -> Callable[[cdk.Stack], object]:
    """ModelPackagingJobReference built by ``factory`` in the gate stack; an argument may be a function of the stack."""
    build = ModelPackagingJobReference if factory == "__call__" else getattr(ModelPackagingJobReference, factory)
    return lambda gate: build(gate, "Model", **{k: v(gate) if callable(v) else v for k, v in arguments.items()})


# Each call gives one argument of a method or of ModelPackagingJobReference a value it refuses, the error, and what
# it says. A wrong type is a TypeError naming the parameter, as jsii-generated constructs raise for every argument.
REFUSED: list[tuple[Any, ...]] = [
    (lambda gate: job(gate).add_outputs(output_prefix=3), TypeError, "output_prefix takes a str"),
    (lambda gate: job(gate).add_outputs(export_prefix=["pcb"]), TypeError, "export_prefix takes a str"),
    (lambda gate: job(gate).publish_parameters(3), TypeError, "parameter_prefix takes a str"),
    (_reference("from_job", job="Gate/Job"), TypeError, "job takes a ModelPackagingJob"),
    (_reference("from_stack_output", stack_name=3), TypeError, "stack_name takes a str"),
    (_reference("from_stack_output", stack_name="Gate", output_prefix=None), TypeError, "output_prefix takes a str"),
    (_reference("from_stack_output", stack_name="Gate", region=["eu-west-1"]), TypeError, "region takes a str"),
    (_reference("from_stack_output", stack_name="Gate", role_arn=3), TypeError, "role_arn takes a str"),
    (_reference("from_parameters", parameter_prefix=3), TypeError, "parameter_prefix takes"),
    (_reference("from_parameters", parameter_prefix="/p", expected_component_name=b"x"), TypeError, "expected_compo"),
    (_reference("__call__", read="ComponentVersionArn"), TypeError, "read takes a function"),
    (lambda gate: job(gate).add_outputs(output_prefix="bad-prefix"), ValueError, "output_prefix 'bad-prefix' must"),
    (_reference("from_stack_output", stack_name="not a stack"), ValueError, "stack_name 'not a stack' is not a"),
    (
        lambda gate: job(gate).publish_parameters("/trailing/"),
        ValueError,
        "parameter_prefix '/trailing/' must be a path like /lookoutvision/pcb/job-1: it starts with '/'",
    ),
    (_reference("from_parameters", parameter_prefix="no-slash"), ValueError, "parameter_prefix 'no-slash' must be a"),
    (
        lambda gate: job(gate).publish_parameters(_token(gate)),
        ValueError,
        "parameter_prefix '${Token[",
        "is a token; it must be a literal path known at synth time, such as /lookoutvision/pcb/",
        "Build the prefix from context or other Python values",
    ),
    (_reference("from_parameters", parameter_prefix=_token), ValueError, "is a token; it must be a literal path"),
    # expected_component_name keys the Greengrass deployment: the reference refuses a token from any factory.
    (_reference("from_parameters", parameter_prefix="/p", expected_component_name=_token), ValueError, "is a token;"),
    (lambda gate: job(gate, "Unnamed").greengrass_component(), ValueError, "cannot use Fn::GetAtt as a map key"),
    # A consumer of a job that does not wait could deploy with an empty component version, or with one from a job
    # that FAILED later.
    (
        lambda gate: job(gate, "NoWait").add_outputs(),
        ValueError,
        "add_outputs() on Gate/NoWait needs wait_for_completion=True",
        "ComponentVersionArn, ComponentName, ComponentVersion and ModelVersion can be empty",
        "Create the job with wait_for_completion=True",
    ),
    (lambda gate: job(gate, "NoWait").publish_parameters("/pcb/j1"), ValueError, "publish_parameters() on Gate/NoWait"),
    (
        lambda gate: job(gate, "NoWait").greengrass_component(),
        ValueError,
        "greengrass_component() on Gate/NoWait needs",
    ),
    (
        _reference("from_job", job=lambda gate: job(gate, "NoWait")),
        ValueError,
        "ModelPackagingJobReference.from_job() on Gate/NoWait needs wait_for_completion=True",
    ),
]


@pytest.mark.parametrize(("call", "error", "fragments"), [(c, e, f) for c, e, *f in REFUSED])
def test_a_refused_call_says_what_to_fix_and_adds_nothing(
    gate: cdk.Stack, call: Callable[[cdk.Stack], object], error: type[Exception], fragments: list[str]
) -> None:
    def tree() -> list[str]:
        return [c.node.path for c in gate.node.find_all() if not isinstance(c, cdk.CfnParameter)]

    before = tree()
    with pytest.raises(error) as raised:
        call(gate)
    for fragment in fragments:
        assert fragment in str(raised.value)
    assert tree() == before


def test_a_greengrass_deployment_is_gated_by_the_job_in_its_own_stack_and_across_stacks(only: Only) -> None:
    app = cdk.App()
    gate, edge = cdk.Stack(app, "Gate"), cdk.Stack(app, "Edge")
    job = _job(gate)
    for stack, model in ((gate, job), (edge, ModelPackagingJobReference.from_job(edge, "Model", job))):
        stations = "arn:aws:iot:us-east-1:123456789012:thinggroup/stations"
        greengrassv2.CfnDeployment(stack, "Deployment", target_arn=stations, components=model.greengrass_component())
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
