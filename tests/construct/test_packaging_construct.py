"""ModelPackagingJob with ``packaging``: the stack starts the job. What it synthesizes (the property, the job name,
IAM), what it refuses at synth time, and what CloudFormation does when the model version changes."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template

from cdk_lookoutvision_packaging import GreengrassPackaging, ModelPackagingJob, TargetPlatform
from cdk_lookoutvision_packaging_handler import contract

if TYPE_CHECKING:
    from conftest import Only

COMPONENT = "com.example.pcb-defects"


def arn(text: str) -> dict[str, Any]:
    """An ARN as CDK writes it for a stack with a known account and Region: only the partition is a token."""
    return {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, text]]}


def _packaging(stack: cdk.Stack, **options: Any) -> GreengrassPackaging:
    """A valid configuration changed by ``options``, writing to an imported bucket unless one is given."""
    config: dict[str, Any] = {"model_version": "3", "component_name": COMPONENT, "target_device": "jetson_xavier"}
    config.update(options)
    if "output_bucket" not in config:
        config["output_bucket"] = s3.Bucket.from_bucket_name(stack, "Models", "pcb-lookoutvision-models")
    return GreengrassPackaging(**config)


def gate(
    model_version: str | int = "3", *, bucket_key: bool = False, **options: Any
) -> tuple[cdk.Stack, ModelPackagingJob]:
    """A stack whose job starts packaging into a bucket of its own (AWS::S3::Bucket): the stack and the job."""
    stack = cdk.Stack(cdk.App(), "Gate", env=cdk.Environment(account="123456789012", region="us-east-1"))
    key = kms.Key(stack, "Key", enable_key_rotation=True) if bucket_key else None
    bucket = s3.Bucket(stack, "Models", encryption_key=key, enforce_ssl=True)
    options.update(model_version=model_version, output_bucket=bucket, output_prefix="lookoutvision/pcb/")
    return stack, ModelPackagingJob(stack, "Job", project_name="pcb", packaging=_packaging(stack, **options))


def statements(stack: cdk.Stack) -> list[dict[str, Any]]:
    policies = Template.from_stack(stack).find_resources("AWS::IAM::Policy")
    (default,) = [p for logical_id, p in policies.items() if "DefaultPolicy" in logical_id]
    return list(default["Properties"]["PolicyDocument"]["Statement"])


def test_the_job_is_declared_with_startmodelpackagingjobs_own_configuration(only: Only) -> None:
    stack, job = gate(component_description="PCB defect model", job_description="built by cdk deploy")
    props = only(stack)[1]["Properties"]
    job_name = contract.default_job_name(COMPONENT, "3.0.0")
    assert props["JobName"] == job_name
    assert "ExpectedComponentName" not in props
    assert props["Packaging"] == {
        "ModelVersion": "3",
        "Description": "built by cdk deploy",
        "Configuration": {
            "Greengrass": {
                "ComponentName": COMPONENT,
                "ComponentVersion": "3.0.0",
                "ComponentDescription": "PCB defect model",
                "TargetDevice": "jetson_xavier",
                "S3OutputLocation": {
                    "Bucket": {"Ref": only(stack, "AWS::S3::Bucket")[0]},
                    "Prefix": "lookoutvision/pcb/",
                },
            }
        },
    }
    assert job.component_name == COMPONENT
    assert list(job.greengrass_component()) == [COMPONENT]


@pytest.mark.parametrize("bucket_key", [False, True])
def test_the_iam_statements_are_scoped_to_the_model_the_prefix_the_component_and_the_bucket_s_key(
    only: Only, bucket_key: bool
) -> None:
    stack, _ = gate(bucket_key=bucket_key)
    bucket_arn = {"Fn::GetAtt": [only(stack, "AWS::S3::Bucket")[0], "Arn"]}
    keys = Template.from_stack(stack).find_resources("AWS::KMS::Key")
    assert len(keys) == bucket_key
    component = ":greengrass:us-east-1:123456789012:components:com.example.pcb-defects"
    assert statements(stack)[2:] == [
        {
            "Action": "lookoutvision:StartModelPackagingJob",
            "Effect": "Allow",
            "Resource": arn(":lookoutvision:us-east-1:123456789012:model/pcb/3"),
        },
        {
            "Action": "s3:PutObject",
            "Effect": "Allow",
            "Resource": {"Fn::Join": ["", [bucket_arn, "/lookoutvision/pcb/*"]]},
        },
        {"Action": "s3:GetBucketLocation", "Effect": "Allow", "Resource": bucket_arn},
        *({"Action": "kms:GenerateDataKey", "Effect": "Allow", "Resource": {"Fn::GetAtt": [k, "Arn"]}} for k in keys),
        {
            "Action": ["greengrass:CreateComponentVersion", "greengrass:DescribeComponent"],
            "Effect": "Allow",
            "Resource": [arn(component), arn(f"{component}:versions:3.0.0")],
        },
    ]


def test_tags_of_reach_the_component_its_own_tags_win_and_only_a_tagged_component_may_be_tagged(only: Only) -> None:
    stack, job = gate(tags={"team": "vision", "owner": "packaging"})
    cdk.Tags.of(stack).add("cost-center", "pcb-line")
    cdk.Tags.of(stack).add("owner", "stack")
    cdk.Tags.of(job).add("stage", "prod")
    assert only(stack)[1]["Properties"]["Packaging"]["Configuration"]["Greengrass"]["Tags"] == [
        {"Key": "cost-center", "Value": "pcb-line"},
        {"Key": "owner", "Value": "packaging"},
        {"Key": "stage", "Value": "prod"},
        {"Key": "team", "Value": "vision"},
    ]
    template = Template.from_stack(stack)
    for resource_type in ("AWS::Lambda::Function", "AWS::IAM::Role", "AWS::Logs::LogGroup"):
        template.has_resource_properties(
            resource_type, {"Tags": Match.array_with([{"Key": "cost-center", "Value": "pcb-line"}])}
        )
    # Tags.of() alone makes tagging one more action on the component and its version, beside creating and describing
    # them; excluded from its resource type, a tag reaches neither the component nor the role.
    component = ":greengrass:us-east-1:123456789012:components:com.example.pcb-defects"
    actions = ["greengrass:CreateComponentVersion", "greengrass:DescribeComponent"]
    for excluded in ([], ["AWS::GreengrassV2::ComponentVersion"]):
        stack, _ = gate()
        cdk.Tags.of(stack).add("cost-center", "pcb-line", exclude_resource_types=excluded)
        greengrass = only(stack)[1]["Properties"]["Packaging"]["Configuration"]["Greengrass"]
        assert ("Tags" in greengrass) is not excluded
        components = [s for s in statements(stack) if "greengrass:DescribeComponent" in s["Action"]]
        tagging = [] if excluded else ["greengrass:TagResource"]
        resources = [arn(component), arn(f"{component}:versions:3.0.0")]
        assert components == [{"Action": actions + tagging, "Effect": "Allow", "Resource": resources}]


def test_a_tag_of_tags_of_that_the_service_refuses_fails_synth_naming_it() -> None:
    stack, _ = gate()
    cdk.Tags.of(stack).add("team", "a|b")
    with pytest.raises(RuntimeError) as raised:
        Template.from_stack(stack)
    assert "Gate/Job" in str(raised.value) and "tag value 'a|b' has '|'" in str(raised.value)


def test_a_target_platform_sends_its_compiler_options_as_json(only: Only) -> None:
    options = {"gpu-code": "sm_75", "trt-ver": "7.1.3", "cuda-ver": "10.2"}
    stack, _ = gate(
        target_device=None,
        target_platform=TargetPlatform(arch="X86_64", accelerator="NVIDIA"),
        compiler_options=options,
    )
    greengrass = only(stack)[1]["Properties"]["Packaging"]["Configuration"]["Greengrass"]
    assert greengrass["TargetPlatform"] == {"Os": "LINUX", "Arch": "X86_64", "Accelerator": "NVIDIA"}
    assert json.loads(greengrass["CompilerOptions"]) == options
    assert "TargetDevice" not in greengrass


def test_a_new_model_version_or_component_version_is_a_new_job_and_a_newly_trained_latest_model_is_not(
    only: Only,
) -> None:
    def props(model_version: str, **options: Any) -> dict[str, Any]:
        return dict(only(gate(model_version, **options)[0])[1]["Properties"])

    three, four = props("3"), props("4")
    assert four["JobName"] == contract.default_job_name(COMPONENT, "4.0.0") != three["JobName"]
    assert {k: v for k, v in three.items() if k not in ("JobName", "Packaging")} == {
        k: v for k, v in four.items() if k not in ("JobName", "Packaging")
    }
    # The template names no model version for latest: training a new model changes nothing in it, so cdk deploy
    # does nothing. A new component version changes the configuration and the job name: a new job starts.
    today, after_training, bumped = (props("latest", component_version=v) for v in ("1.0.0", "1.0.0", "1.1.0"))
    assert today == after_training
    assert today["Packaging"]["ModelVersion"] == "latest"
    assert bumped["JobName"] == contract.default_job_name(COMPONENT, "1.1.0") != today["JobName"]


def test_two_jobs_of_a_stack_that_create_one_component_version_are_refused_naming_both() -> None:
    # One model for two targets: without a component_version or component_name of its own, each job would create
    # com.example.pcb-defects 3.0.0, under one default job name and one physical id.
    stack = cdk.Stack(cdk.App(), "Gate")
    bucket = s3.Bucket.from_bucket_name(stack, "Models", "pcb-lookoutvision-models")

    def job(construct_id: str, **options: Any) -> None:
        packaging = _packaging(stack, output_bucket=bucket, **options)
        ModelPackagingJob(stack, construct_id, project_name="pcb", packaging=packaging)

    job("X86", target_device=None, target_platform=TargetPlatform(arch="X86_64"))
    with pytest.raises(ValueError) as raised:
        job("Arm")
    message = str(raised.value)
    assert "Gate/Arm and Gate/X86 both create Greengrass component com.example.pcb-defects version 3.0.0" in message
    assert ", under one job name" in message
    assert "each target needs its own component_name or component_version" in message
    assert stack.node.try_find_child("Arm") is None
    # With a component version of its own, the second target is a job of its own.
    job("Arm", component_version="3.1.0")
    jobs = Template.from_stack(stack).find_resources(contract.RESOURCE_TYPE).values()
    assert len({r["Properties"]["JobName"] for r in jobs}) == 2


def _platform(**fields: Any) -> Any:
    return lambda _: TargetPlatform(**{"arch": "X86_64", **fields})


# Each field of GreengrassPackaging and TargetPlatform given a value it refuses (a function of the stack where it is
# built there), the error, and what it says: a wrong type is a TypeError naming the field.
REFUSED: list[tuple[dict[str, Any], type[Exception], str]] = [
    (
        {"model_version": 3.0},
        TypeError,
        "GreengrassPackaging.model_version takes a str or an int, a model version such as 3",
    ),
    ({"model_version": True}, TypeError, "got bool True"),
    ({"component_name": 3}, TypeError, "GreengrassPackaging.component_name takes a str"),
    ({"output_bucket": "pcb-lookoutvision-models"}, TypeError, "GreengrassPackaging.output_bucket takes an s3.IBucket"),
    ({"output_prefix": 3}, TypeError, "GreengrassPackaging.output_prefix takes a str"),
    ({"component_version": 3}, TypeError, "GreengrassPackaging.component_version takes a str"),
    ({"target_device": 3}, TypeError, "GreengrassPackaging.target_device takes a str"),
    ({"target_platform": "linux/x86_64"}, TypeError, "GreengrassPackaging.target_platform takes a TargetPlatform"),
    ({"compiler_options": '{"mcpu": "x"}'}, TypeError, "GreengrassPackaging.compiler_options takes a dict"),
    ({"compiler_options": {"mcpu": object()}}, TypeError, "GreengrassPackaging.compiler_options must be JSON"),
    ({"component_description": 3}, TypeError, "GreengrassPackaging.component_description takes a str"),
    ({"tags": [("team", "vision")]}, TypeError, "GreengrassPackaging.tags takes a dict of str keys and str values"),
    ({"tags": {"team": 3}}, TypeError, "GreengrassPackaging.tags['team'] takes a str"),
    ({"job_description": 3}, TypeError, "GreengrassPackaging.job_description takes a str"),
    ({"target_platform": _platform(arch=3)}, TypeError, "TargetPlatform.arch takes a str, ARM64 or X86_64; got int 3"),
    ({"target_platform": _platform(accelerator=True)}, TypeError, "TargetPlatform.accelerator takes a str, NVIDIA"),
    ({"target_platform": _platform(os=None)}, TypeError, "TargetPlatform.os takes a str, LINUX"),
    # The rules are configuration.check's (tests/unit/test_configuration.py): here, that the construct applies them
    # at synth time under "packaging:".
    ({"model_version": "3.1"}, ValueError, "packaging: ModelVersion '3.1' must match"),
    ({"compiler_options": {"mcpu": "x"}}, ValueError, "packaging.compiler_options go with target_platform only"),
    (
        {"component_name": lambda stack: cdk.CfnParameter(stack, "Name").value_as_string},
        ValueError,
        "packaging.component_name is a token",
    ),
]


@pytest.mark.parametrize(("options", "error", "fragment"), REFUSED)
def test_a_refused_packaging_names_the_field_and_what_to_fix(
    options: dict[str, Any], error: type[Exception], fragment: str
) -> None:
    stack = cdk.Stack(cdk.App(), "Gate")
    with pytest.raises(error) as raised:
        options = {k: v(stack) if callable(v) else v for k, v in options.items()}
        ModelPackagingJob(stack, "Job", project_name="pcb", packaging=_packaging(stack, **options))
    assert fragment in str(raised.value)
    assert stack.node.try_find_child("Job") is None


def test_a_model_version_given_as_an_int_is_that_version_and_empty_compiler_options_are_none(only: Only) -> None:
    x86 = {"target_device": None, "target_platform": TargetPlatform(arch="X86_64")}
    given = only(gate(3, compiler_options={}, **x86)[0])[1]["Properties"]
    # The same template as "3" without compiler options: ModelVersion "3" and no CompilerOptions.
    assert given == only(gate("3", **x86)[0])[1]["Properties"]


def test_expected_component_name_goes_without_packaging() -> None:
    # With packaging, the component it creates is the one the deployment checks. That job_name stays required
    # without packaging is tests/construct/test_construct.py's.
    stack = cdk.Stack(cdk.App(), "Bad")
    with pytest.raises(ValueError, match="expected_component_name goes without packaging"):
        ModelPackagingJob(
            stack, "Job", project_name="pcb", packaging=_packaging(stack), expected_component_name=COMPONENT
        )
