"""The example app: its context read in process (every key, every bad value), cdk-nag's AwsSolutions pack on every
stack it synthesizes, and through the real CDK CLI (cdk.json context, -c overrides, cfn-lint). That the asset's hash is
the same in every process and environment is tests/deploy/test_wheel.py's; the IAM statements and the function's
environment are asserted exactly in tests/construct/test_construct.py."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import e2e_support
import pytest
from aws_cdk import Validations
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks

import app as example
from cdk_lookoutvision_packaging_handler import contract
from cdk_lookoutvision_packaging_handler.contract import RESOURCE_TYPE

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
STACK = "LookoutVisionModelGate"
CONTEXT = json.loads((ROOT / "cdk.json").read_text())["context"]


def cdk_synth(outdir: Path, *context: str) -> subprocess.CompletedProcess[str]:
    """`cdk synth` of the example app; its stderr is in stdout."""
    context_args = [arg for item in context for arg in ("-c", item)]
    command = ["cdk", "synth", "--quiet", "--output", str(outdir), *context_args]
    return e2e_support.run_cli(command, e2e_support.cli_env(), check=False)


def only_of_type(template: dict[str, Any], type_: str) -> tuple[str, dict[str, Any]]:
    found = [(k, v) for k, v in template["Resources"].items() if v["Type"] == type_]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.slow
def test_synth_takes_cdk_json_s_context_and_c_overrides_and_passes_cfn_lint(tmp_path: Path) -> None:
    result = cdk_synth(tmp_path, "projectName=x", "expectedComponentName=", "waitTimeoutMinutes=55")
    assert result.returncode == 0 and "end-of-life" not in result.stdout, result.stdout
    _, resource = only_of_type(json.loads((tmp_path / f"{STACK}.template.json").read_text()), RESOURCE_TYPE)
    # The service token and timeout are the construct's (tests/construct/test_construct.py), not the context's.
    props = {k: v for k, v in resource["Properties"].items() if k not in ("ServiceToken", "ServiceTimeout")}
    # -c overrides cdk.json (jobName is cdk.json's), and an empty value is no value.
    expected = {"ProjectName": "x", "JobName": CONTEXT["jobName"], "WaitTimeoutSeconds": 55 * 60}
    assert props == {"WaitForCompletion": True, **expected}

    # The templates of cdk.json's context are linted as the pipeline's stage (test_pipeline_app.py).
    templates = sorted(map(str, tmp_path.glob("*.template.json")))
    lint = [str(VENV_BIN / "cfn-lint"), "--config-file", str(ROOT / ".cfnlintrc.yaml"), *templates]
    linted = subprocess.run(lint, capture_output=True, text=True, timeout=300)
    assert (linted.returncode, linted.stdout.strip(), linted.stderr.strip()) == (0, "", ""), templates


def build(tmp_path: Path, **context: Any) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The example app built in process with cdk.json's context and ``context`` over it (what -c passes: strings),
    checked by cdk-nag's AwsSolutions pack (synth raises ValidationFailed on any unsuppressed finding): stack name ->
    template, each with the names of the stacks it depends on under "DependsOn", and the nag plugin's report."""
    application = cdk.App(context={**CONTEXT, **context}, outdir=str(tmp_path))
    Validations.of(application).add_plugins(AwsSolutionsChecks())
    example.build_app(application)
    stacks = application.synth().stacks
    (report,) = json.loads((tmp_path / "validation-report.json").read_text())["pluginReports"]
    return {s.stack_name: {**s.template, "DependsOn": [d.id for d in s.dependencies]} for s in stacks}, report


def read(**context: Any) -> dict[str, Any]:
    """What the app reads from cdk.json's context with ``context`` over it."""
    return example.read_context(cdk.App(context={**CONTEXT, **context}))


OPTIONS = {"gpu-code": "sm_72", "trt-ver": "8.4.1", "cuda-ver": "11.4"}
# Every argument of GreengrassPackaging given a context key, as -c passes them (strings).
STARTING = {
    "startJob": "true",
    "modelVersion": "latest",
    "componentVersion": "3.1.0",
    "targetPlatform": "linux/arm64/nvidia",
    "compilerOptions": json.dumps(OPTIONS),
    "componentDescription": "PCB defects, Jetson",
    "componentTags": '{"team": "vision"}',
    "jobDescription": "nightly packaging",
    "outputPrefix": "models/pcb/",
}


Built = tuple[dict[str, dict[str, Any]], dict[str, Any]]


@pytest.fixture(scope="module")
def watching(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """cdk.json's context: the gate watches a job started elsewhere."""
    return build(tmp_path_factory.mktemp("watching"))


@pytest.fixture(scope="module")
def starting(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """STARTING over cdk.json's context: the gate stack declares the job."""
    return build(tmp_path_factory.mktemp("starting"), **STARTING)


def test_the_edge_stack_deploys_the_model_and_the_edge_agent_after_the_gate(watching: Built) -> None:
    edge = watching[0]["LookoutVisionEdgeDeployment"]
    _, deployment = only_of_type(edge, "AWS::GreengrassV2::Deployment")
    from_gate = {"Fn::GetStackOutput": {"StackName": STACK, "OutputName": "ModelPackagingJobComponentVersion"}}
    assert deployment["Properties"]["Components"] == {
        "com.example.pcb-defects": {"ComponentVersion": from_gate},
        "aws.iot.lookoutvision.EdgeAgent": {"ComponentVersion": "1.2.0"},
    }
    assert deployment["Properties"]["DeploymentPolicies"]["FailureHandlingPolicy"] == "ROLLBACK"
    assert STACK in edge["DependsOn"]


HANDLER = f"{STACK}/LookoutVisionModelPackagingJobHandler"
POLICY, FUNCTION = f"{HANDLER}/Role/DefaultPolicy/Resource", f"{HANDLER}/Function/Resource"
IAM5 = "AwsSolutions::AwsSolutions-IAM5[Resource::"
# Each finding the example app acknowledges: where, and a fragment of the reason it gives.
FORCED_WILDCARD = (f"{IAM5}*]", POLICY, "supports no IAM resource types")
# The function declares python3.13, the newest runtime the tests can run the asset on, not aws-cdk-lib's newest.
TESTED_RUNTIME = ("AwsSolutions::AwsSolutions-L1", FUNCTION, "newest runtime the asset is tested on")
# The example gate expects its component: the gate may describe every version of that one component (the version is
# known only when the job succeeds).
COMPONENT_VERSIONS = (
    f"{IAM5}arn:<AWS::Partition>:greengrass:<AWS::Region>:<AWS::AccountId>:"
    "components:com.example.pcb-defects:versions:*]",
    POLICY,
    "only when it succeeds",
)
# Starting the job (STARTING), the gate may write the packaged model under its output prefix, and start a job of
# any version of the model (model version latest).
OUTPUT_PREFIX = (f"{IAM5}arn:<AWS::Partition>:s3:::pcb-lookoutvision-models/models/pcb/*]", POLICY, "output prefix")
EVERY_MODEL_VERSION = (
    f"{IAM5}arn:<AWS::Partition>:lookoutvision:<AWS::Region>:<AWS::AccountId>:model/pcb/*]",
    POLICY,
    "model_version latest names no model version at synth time",
)


@pytest.mark.parametrize(
    ("app", "acknowledged"),
    [
        ("watching", [FORCED_WILDCARD, TESTED_RUNTIME, COMPONENT_VERSIONS]),
        ("starting", [FORCED_WILDCARD, TESTED_RUNTIME, OUTPUT_PREFIX, EVERY_MODEL_VERSION]),
    ],
)
def test_cdk_nag_finds_nothing_unsuppressed_and_the_app_acknowledges_only_what_it_must(
    app: str, acknowledged: list[tuple[str, str, str]], request: pytest.FixtureRequest
) -> None:
    stacks, plugin = request.getfixturevalue(app)
    assert (plugin["pluginName"], plugin["conclusion"], plugin["violations"]) == ("AwsSolutions", "success", [])
    assert len(stacks) == 2, "the gate stack and the edge deployment stack were both checked"
    suppressed = {s["acknowledgedId"]: s for s in plugin["suppressedViolations"]}
    assert sorted(suppressed) == sorted(finding for finding, _, _ in acknowledged)
    for finding, construct, reason in acknowledged:
        assert [c["constructPath"] for c in suppressed[finding]["violatingConstructs"]] == [construct]
        assert reason in suppressed[finding]["reason"]


def test_an_unacknowledged_wildcard_on_the_gate_s_role_still_fails_the_nag_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The acknowledgement is narrow: another wildcard on the same role is still reported."""
    build_app = example.build_app

    def widened(app: cdk.App) -> None:
        build_app(app)
        handler = app.node.find_child(STACK).node.find_child("LookoutVisionModelPackagingJobHandler")
        handler.role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::bucket/*"]))

    monkeypatch.setattr(example, "build_app", widened)
    with pytest.raises(RuntimeError, match=r"ValidationFailed"):
        build(tmp_path)


def test_every_argument_of_greengrass_packaging_has_a_context_key(starting: Built) -> None:
    _, resource = only_of_type(starting[0][STACK], RESOURCE_TYPE)
    packaging = resource["Properties"]["Packaging"]
    assert packaging["ModelVersion"] == "latest" and packaging["Description"] == "nightly packaging"
    greengrass = packaging["Configuration"]["Greengrass"]
    # -c targetPlatform replaces cdk.json's targetDevice.
    assert {**greengrass, "CompilerOptions": json.loads(greengrass["CompilerOptions"])} == {
        "ComponentName": CONTEXT["expectedComponentName"],
        "ComponentVersion": "3.1.0",
        "S3OutputLocation": {"Bucket": CONTEXT["outputBucketName"], "Prefix": "models/pcb/"},
        "TargetPlatform": {"Os": "LINUX", "Arch": "ARM64", "Accelerator": "NVIDIA"},
        "CompilerOptions": OPTIONS,
        "ComponentDescription": "PCB defects, Jetson",
        "Tags": [{"Key": "team", "Value": "vision"}],
    }
    assert resource["Properties"]["JobName"] == contract.default_job_name(CONTEXT["expectedComponentName"], "3.1.0")


def test_the_strings_of_c_read_as_the_values_of_cdk_json() -> None:
    """-c passes strings, which read as cdk.json's values would ("true" for startJob: the starting fixture)."""
    given = {
        "startJob": False,
        "compilerOptions": OPTIONS,
        "componentTags": {"team": "vision"},
        "waitTimeoutMinutes": 30,
    }
    assert read(**{key: json.dumps(value) for key, value in given.items()}) == read(**given)


# A bad value of each kind of context key, and what its line says the key takes.
BAD_CONTEXT = {
    "startJob": ("True ", "it takes true or false"),
    "targetPlatform": ("linux/x86_64/tpu", "it takes OS/ARCH or OS/ARCH/ACCELERATOR: linux/arm64, linux/x86_64, "),
    "waitTimeoutMinutes": ("30.5", "it takes a whole number of minutes from 1 to 55"),
    "compilerOptions": ("mcpu=skylake", 'it takes a JSON object such as {"mcpu": "skylake-avx512"}'),
    "componentTags": ('{"team": 1}', 'it takes a JSON object of tag names to strings, such as {"team": "vision"}'),
    "targetDevice": ("jetson_nano", "it takes one of jetson_xavier"),
    "jobName": ("pcb_v3", "JobName 'pcb_v3' must match [a-zA-Z0-9-]+"),
}


def test_every_bad_context_value_is_reported_at_once_one_line_naming_the_key_its_value_and_what_it_takes() -> None:
    with pytest.raises(ValueError, match=r"^Context value ") as raised:
        read(**{key: value for key, (value, _) in BAD_CONTEXT.items()})

    lines = {line.split("=", 1)[0].removeprefix("Context value "): line for line in str(raised.value).splitlines()}
    assert sorted(lines) == sorted(BAD_CONTEXT)
    for key, (value, takes) in BAD_CONTEXT.items():
        assert lines[key].startswith(f"Context value {key}={json.dumps(value)}: {takes}"), lines[key]


def test_start_job_names_the_context_values_it_misses(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"startJob=true needs the context values outputBucketName, modelVersion"):
        build(tmp_path, startJob="true", outputBucketName="", modelVersion="")


@pytest.mark.slow
def test_cdk_synth_prints_each_bad_context_value_as_one_line_and_writes_no_template(tmp_path: Path) -> None:
    result = cdk_synth(tmp_path, "startJob=yes", "jobName=pcb_v3")

    assert result.returncode != 0
    assert 'Context value startJob="yes": it takes true or false' in result.stdout
    assert "JobName 'pcb_v3' must match [a-zA-Z0-9-]+" in result.stdout
    assert "Traceback" not in result.stdout, result.stdout
    assert not (tmp_path / f"{STACK}.template.json").exists()
