"""Security checks on every stack the example app synthesizes: cdk-nag's AwsSolutions pack with 0 unsuppressed
findings, narrow suppressions with reasons, and no secrets in environment variables. The IAM statements themselves
are asserted exactly, so without wildcards but the one the service forces, in tests/construct/test_construct.py."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Validations
from cdk_nag import AwsSolutionsChecks
from support import ROOT

from cdk_lookoutvision_packaging import ModelPackagingJob

sys.path.insert(0, str(ROOT))

ALLOWED_SUPPRESSION = "AwsSolutions::AwsSolutions-IAM5[Resource::*]"
# The function declares python3.13, the newest runtime the tests can run the asset on, not aws-cdk-lib's newest.
RUNTIME_SUPPRESSION = "AwsSolutions::AwsSolutions-L1"


def _synth_with_nag(build: Any, outdir: Path, **context: Any) -> tuple[cdk.App, dict[str, Any], list[dict[str, Any]]]:
    app = cdk.App(context={**json.loads((ROOT / "cdk.json").read_text())["context"], **context}, outdir=str(outdir))
    Validations.of(app).add_plugins(AwsSolutionsChecks())
    build(app)
    assembly = app.synth()  # raises ValidationFailed on any unsuppressed finding
    report = json.loads((outdir / "validation-report.json").read_text())
    return app, report, [json.loads(Path(s.template_full_path).read_text()) for s in assembly.stacks_recursively]


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> tuple[cdk.App, dict[str, Any], list[dict[str, Any]]]:
    import app as example_app

    return _synth_with_nag(example_app.build_app, tmp_path_factory.mktemp("nag-app"))


# The example gate expects its component: the gate may describe every version of that one component (the version is
# known only when the job succeeds).
COMPONENT_VERSIONS_SUPPRESSION = (
    "AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:greengrass:<AWS::Region>:<AWS::AccountId>:"
    "components:com.example.pcb-defects:versions:*]"
)


def test_the_example_app_starting_its_job_has_no_unsuppressed_findings(tmp_path: Path) -> None:
    import app as example_app

    _, report, templates = _synth_with_nag(example_app.build_app, tmp_path, startJob="true")
    (plugin,) = report["pluginReports"]
    assert (plugin["conclusion"], plugin["violations"]) == ("success", [])
    bucket = "arn:<AWS::Partition>:s3:::pcb-lookoutvision-models"
    prefix = f"AwsSolutions::AwsSolutions-IAM5[Resource::{bucket}/lookoutvision/pcb/*]"
    acknowledged = {s["acknowledgedId"]: s["reason"] for s in plugin["suppressedViolations"]}
    assert sorted(acknowledged) == sorted([ALLOWED_SUPPRESSION, prefix, RUNTIME_SUPPRESSION])
    assert "under the output prefix" in acknowledged[prefix]
    assert len(templates) == 2


def test_the_example_app_has_no_unsuppressed_findings_and_suppresses_the_forced_wildcards_and_the_tested_runtime(
    example: tuple[cdk.App, dict[str, Any], list[Any]],
) -> None:
    _, report, templates = example
    (plugin,) = report["pluginReports"]
    assert (plugin["pluginName"], plugin["conclusion"], plugin["violations"]) == ("AwsSolutions", "success", [])
    assert len(templates) == 2, "the gate stack and the edge deployment stack were both checked"
    suppressed = plugin["suppressedViolations"]
    assert sorted(s["acknowledgedId"] for s in suppressed) == sorted(
        [ALLOWED_SUPPRESSION, COMPONENT_VERSIONS_SUPPRESSION, RUNTIME_SUPPRESSION]
    )
    (versions,) = [s for s in suppressed if s["acknowledgedId"] == COMPONENT_VERSIONS_SUPPRESSION]
    assert "only when it succeeds" in versions["reason"]
    (runtime,) = [s for s in suppressed if s["acknowledgedId"] == RUNTIME_SUPPRESSION]
    assert [c["constructPath"] for c in runtime["violatingConstructs"]] == [
        "LookoutVisionModelGate/LookoutVisionModelPackagingJobHandler/Function/Resource"
    ]
    assert "newest runtime the asset is tested on" in runtime["reason"]
    (only,) = [s for s in suppressed if s["acknowledgedId"] == ALLOWED_SUPPRESSION]
    assert [c["constructPath"] for c in only["violatingConstructs"]] == [
        "LookoutVisionModelGate/LookoutVisionModelPackagingJobHandler/Role/DefaultPolicy/Resource"
    ]
    assert "supports no IAM resource types" in only["reason"]


def test_an_unacknowledged_wildcard_still_fails_synth(tmp_path: Path) -> None:
    """The acknowledgement is narrow: another wildcard on the same role is still reported."""
    from aws_cdk import aws_iam as iam

    def build(app: cdk.App) -> None:
        stack = cdk.Stack(app, "Gate")
        ModelPackagingJob(stack, "Job", project_name="pcb", job_name="j1")
        handler = stack.node.find_child("LookoutVisionModelPackagingJobHandler")
        handler.role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::bucket/*"]))

    with pytest.raises(RuntimeError, match=r"ValidationFailed"):
        _synth_with_nag(build, tmp_path / "out")


def test_environment_variables_carry_no_secrets(example: tuple[cdk.App, dict[str, Any], list[Any]]) -> None:
    functions = [r for t in example[2] for r in t["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert functions
    for function in functions:
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        # The data path, the log level and the polling budget (a rate and a job count), exactly: nothing else is there
        # to hold a secret.
        assert set(variables) == {"AWS_DATA_PATH", "LOG_LEVEL", "DESCRIBE_BUDGET_RPS", "DESCRIBE_BUDGET_JOBS"}
        assert variables["AWS_DATA_PATH"] == "/var/task/models" and variables["LOG_LEVEL"] == "INFO"
        assert re.fullmatch(r"[0-9]+(\.[0-9]+)?", variables["DESCRIBE_BUDGET_RPS"])
        assert re.fullmatch(r"[0-9]+", variables["DESCRIBE_BUDGET_JOBS"])
