"""The example app: its context read in process (every key, every bad value), cdk-nag's AwsSolutions pack on every
stack it synthesizes, and through the real CDK CLI (cdk.json context, -c overrides, cfn-lint). That the asset's hash is
the same in every process and environment is tests/deploy/test_wheel.py's; the IAM statements and the function's
environment are asserted exactly in tests/construct/test_construct.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Validations
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks

from cdk_lookoutvision_packaging_handler import contract
from cdk_lookoutvision_packaging_handler.contract import RESOURCE_TYPE

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
NODE_BIN = ROOT / "node_modules" / ".bin"
STACK = "LookoutVisionModelGate"
CONTEXT = json.loads((ROOT / "cdk.json").read_text())["context"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    for var in ("CDK_OUTDIR", "CDK_CONTEXT_JSON", "PYTHONPATH"):
        env.pop(var, None)
    # `python3 app.py` must be the project venv's python, and jsii and the CLI must run on the pinned Node.js.
    env["PATH"] = os.pathsep.join([str(VENV_BIN), str(NODE_BIN), env.get("PATH", "")])
    env.update(
        {
            "CDK_DISABLE_VERSION_CHECK": "1",
            "CDK_DISABLE_CLI_TELEMETRY": "true",
            "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
        }
    )
    return env


def cdk_synth(outdir: Path, *context: str) -> subprocess.CompletedProcess[str]:
    args = [str(NODE_BIN / "cdk"), "synth", "--quiet", "--output", str(outdir)]
    for item in context:
        args += ["-c", item]
    return subprocess.run(args, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)


def synthesized(outdir: Path, *context: str) -> dict[str, Any]:
    result = cdk_synth(outdir, *context)
    assert result.returncode == 0, result.stderr
    assert "end-of-life" not in result.stderr, result.stderr
    return json.loads((outdir / f"{STACK}.template.json").read_text())


def only_of_type(template: dict[str, Any], type_: str) -> tuple[str, dict[str, Any]]:
    found = [(k, v) for k, v in template["Resources"].items() if v["Type"] == type_]
    assert len(found) == 1, found
    return found[0]


def outputs_of(template: dict[str, Any], resource_id: str, key: str) -> list[str]:
    """Names of the outputs that publish attribute ``key`` of the custom resource (named ``...<key>``)."""
    return [
        name
        for name, output in template.get("Outputs", {}).items()
        if name.endswith(key) and output["Value"] == {"Fn::GetAtt": [resource_id, key]}
    ]


@pytest.fixture(scope="module")
def defaults(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    outdir = tmp_path_factory.mktemp("synth-defaults")
    return outdir, synthesized(outdir)


@pytest.fixture(scope="module")
def overridden(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    outdir = tmp_path_factory.mktemp("synth-overrides")
    return outdir, synthesized(outdir, "projectName=x", "jobName=y", "expectedComponentName=", "waitTimeoutMinutes=55")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("synth", "expected"),
    [
        (
            "defaults",
            {
                "ProjectName": CONTEXT["projectName"],
                "JobName": CONTEXT["jobName"],
                "WaitTimeoutSeconds": int(CONTEXT["waitTimeoutMinutes"]) * 60,
                "ExpectedComponentName": CONTEXT["expectedComponentName"],
            },
        ),
        # -c overrides cdk.json, and an empty value is no value.
        ("overridden", {"ProjectName": "x", "JobName": "y", "WaitTimeoutSeconds": 55 * 60}),
    ],
)
def test_synth_takes_cdk_json_s_context_and_c_overrides(
    synth: str, expected: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    _, template = request.getfixturevalue(synth)
    resource_id, resource = only_of_type(template, RESOURCE_TYPE)
    # The service token and timeout are the construct's (tests/construct/test_construct.py), not the context's.
    props = {k: v for k, v in resource["Properties"].items() if k not in ("ServiceToken", "ServiceTimeout")}
    assert props == {"WaitForCompletion": True, **expected}
    for key in ("ComponentVersionArn", "Status"):
        assert outputs_of(template, resource_id, key), (key, template.get("Outputs"))


@pytest.mark.slow
def test_cfn_lint_reports_no_findings_with_context_overrides(overridden: tuple[Path, dict[str, Any]]) -> None:
    # `make cfn-lint` (part of `make test`) lints the templates of the defaults.
    templates = sorted(overridden[0].glob("*.template.json"))
    assert templates
    for template in templates:
        result = subprocess.run(
            [str(VENV_BIN / "cfn-lint"), "--config-file", str(ROOT / ".cfnlintrc.yaml"), str(template)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert (result.returncode, result.stdout.strip(), result.stderr.strip()) == (0, "", ""), template


# --- the context, in process ------------------------------------------------------------------------------------------


def build(tmp_path: Path, nag: bool = False, **context: Any) -> dict[str, dict[str, Any]]:
    """The example app built in process with cdk.json's context and ``context`` over it (what -c passes: strings),
    as stack name -> template, each with the names of the stacks it depends on under "DependsOn". With ``nag``,
    cdk-nag's AwsSolutions pack checks it: synth raises ValidationFailed on any unsuppressed finding and writes
    validation-report.json into ``tmp_path``."""
    sys.path.insert(0, str(ROOT))
    import app as example

    application = cdk.App(context={**CONTEXT, **context}, outdir=str(tmp_path))
    if nag:
        Validations.of(application).add_plugins(AwsSolutionsChecks())
    example.build_app(application)
    return {
        s.stack_name: {**s.template, "DependsOn": [d.id for d in s.dependencies]} for s in application.synth().stacks
    }


def test_the_edge_stack_deploys_the_model_and_the_edge_agent_after_the_gate(tmp_path: Path) -> None:
    templates = build(tmp_path)
    gate, edge = templates[STACK], templates["LookoutVisionEdgeDeployment"]
    _, deployment = only_of_type(edge, "AWS::GreengrassV2::Deployment")
    read = {"Fn::GetStackOutput": {"StackName": STACK, "OutputName": "ModelPackagingJobComponentVersion"}}
    assert deployment["Properties"]["Components"] == {
        "com.example.pcb-defects": {"ComponentVersion": read},
        "aws.iot.lookoutvision.EdgeAgent": {"ComponentVersion": "1.2.0"},
    }
    assert deployment["Properties"]["DeploymentPolicies"]["FailureHandlingPolicy"] == "ROLLBACK"
    resource_id, _ = only_of_type(gate, RESOURCE_TYPE)
    assert outputs_of(gate, resource_id, "ComponentVersion") == ["ModelPackagingJobComponentVersion"]
    assert STACK in edge["DependsOn"]


HANDLER = f"{STACK}/LookoutVisionModelPackagingJobHandler"
# Each finding the example app acknowledges: where, and a fragment of the reason it gives.
FORCED_WILDCARD = (
    "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
    f"{HANDLER}/Role/DefaultPolicy/Resource",
    "supports no IAM resource types",
)
# The function declares python3.13, the newest runtime the tests can run the asset on, not aws-cdk-lib's newest.
TESTED_RUNTIME = (
    "AwsSolutions::AwsSolutions-L1",
    f"{HANDLER}/Function/Resource",
    "newest runtime the asset is tested on",
)
# The example gate expects its component: the gate may describe every version of that one component (the version is
# known only when the job succeeds).
COMPONENT_VERSIONS = (
    "AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:greengrass:<AWS::Region>:<AWS::AccountId>:"
    "components:com.example.pcb-defects:versions:*]",
    f"{HANDLER}/Role/DefaultPolicy/Resource",
    "only when it succeeds",
)
# Starting the job, the gate may write the packaged model under its output prefix.
OUTPUT_PREFIX = (
    "AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::pcb-lookoutvision-models/lookoutvision/pcb/*]",
    f"{HANDLER}/Role/DefaultPolicy/Resource",
    "under the output prefix",
)


@pytest.mark.parametrize(
    ("context", "acknowledged"),
    [
        ({}, [FORCED_WILDCARD, TESTED_RUNTIME, COMPONENT_VERSIONS]),
        ({"startJob": "true"}, [FORCED_WILDCARD, TESTED_RUNTIME, OUTPUT_PREFIX]),
    ],
    ids=["watching", "starting"],
)
def test_cdk_nag_finds_nothing_unsuppressed_and_the_app_acknowledges_only_what_it_must(
    tmp_path: Path, context: dict[str, str], acknowledged: list[tuple[str, str, str]]
) -> None:
    stacks = build(tmp_path, nag=True, **context)
    (plugin,) = json.loads((tmp_path / "validation-report.json").read_text())["pluginReports"]
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
    import app as example

    build_app = example.build_app

    def widened(app: cdk.App) -> None:
        build_app(app)
        handler = app.node.find_child(STACK).node.find_child("LookoutVisionModelPackagingJobHandler")
        handler.role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::bucket/*"]))

    monkeypatch.setattr(example, "build_app", widened)
    with pytest.raises(RuntimeError, match=r"ValidationFailed"):
        build(tmp_path, nag=True)


def packaging_of(templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    _, resource = only_of_type(templates[STACK], RESOURCE_TYPE)
    packaging: dict[str, Any] = resource["Properties"]["Packaging"]
    return packaging


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


def test_every_bad_context_value_is_reported_at_once_one_line_naming_the_key_its_value_and_what_it_takes(
    tmp_path: Path,
) -> None:
    with pytest.raises(ValueError, match=r"^Context value ") as raised:
        build(tmp_path, **{key: value for key, (value, _) in BAD_CONTEXT.items()})

    lines = {line.split("=", 1)[0].removeprefix("Context value "): line for line in str(raised.value).splitlines()}
    assert sorted(lines) == sorted(BAD_CONTEXT)
    for key, (value, takes) in BAD_CONTEXT.items():
        assert lines[key].startswith(f"Context value {key}={json.dumps(value)}: {takes}"), lines[key]


@pytest.mark.parametrize(("value", "starts"), [("false", False), (False, False), ("true", True)])
def test_start_job_takes_the_booleans_of_cdk_json_and_the_strings_of_c(
    tmp_path: Path, value: object, starts: bool
) -> None:
    _, resource = only_of_type(build(tmp_path, startJob=value)[STACK], RESOURCE_TYPE)
    assert ("Packaging" in resource["Properties"]) is starts


OPTIONS = {"gpu-code": "sm_72", "trt-ver": "8.4.1", "cuda-ver": "11.4"}


# What -c passes (strings), and the objects cdk.json holds, taken as they are.
@pytest.mark.parametrize(
    "given",
    [
        {"startJob": "true", "compilerOptions": json.dumps(OPTIONS), "componentTags": '{"team": "vision"}'}
        | {"waitTimeoutMinutes": "30"},
        {"startJob": True, "compilerOptions": OPTIONS, "componentTags": {"team": "vision"}, "waitTimeoutMinutes": 30},
    ],
    ids=["c", "cdk.json"],
)
def test_every_argument_of_greengrass_packaging_has_a_context_key(tmp_path: Path, given: dict[str, Any]) -> None:
    templates = build(
        tmp_path,
        modelVersion="latest",
        componentVersion="3.1.0",
        targetPlatform="linux/arm64/nvidia",
        componentDescription="PCB defects, Jetson",
        jobDescription="nightly packaging",
        outputPrefix="models/pcb/",
        **given,
    )

    packaging = packaging_of(templates)
    assert packaging["ModelVersion"] == "latest" and packaging["Description"] == "nightly packaging"
    greengrass = packaging["Configuration"]["Greengrass"]
    assert greengrass["ComponentName"] == CONTEXT["expectedComponentName"]
    assert greengrass["ComponentVersion"] == "3.1.0"
    assert greengrass["S3OutputLocation"] == {"Bucket": CONTEXT["outputBucketName"], "Prefix": "models/pcb/"}
    # -c targetPlatform replaces cdk.json's targetDevice.
    assert "TargetDevice" not in greengrass
    assert greengrass["TargetPlatform"] == {"Os": "LINUX", "Arch": "ARM64", "Accelerator": "NVIDIA"}
    assert json.loads(greengrass["CompilerOptions"]) == OPTIONS
    assert greengrass["ComponentDescription"] == "PCB defects, Jetson"
    assert greengrass["Tags"] == [{"Key": "team", "Value": "vision"}]
    _, resource = only_of_type(templates[STACK], RESOURCE_TYPE)
    assert resource["Properties"]["WaitTimeoutSeconds"] == 30 * 60
    assert resource["Properties"]["JobName"] == contract.default_job_name(CONTEXT["expectedComponentName"], "3.1.0")


def test_start_job_names_the_context_values_it_misses(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"startJob=true needs the context values outputBucketName, modelVersion"):
        build(tmp_path, startJob="true", outputBucketName="", modelVersion="")


@pytest.mark.slow
def test_cdk_synth_prints_each_bad_context_value_as_one_line_and_writes_no_template(tmp_path: Path) -> None:
    result = cdk_synth(tmp_path, "startJob=yes", "jobName=pcb_v3")

    assert result.returncode != 0
    assert 'Context value startJob="yes": it takes true or false' in result.stderr
    assert "JobName 'pcb_v3' must match [a-zA-Z0-9-]+" in result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert not (tmp_path / f"{STACK}.template.json").exists()
