"""cdk-nag's AwsSolutions pack on every stack the example app synthesizes: 0 unsuppressed findings, and narrow
acknowledgements with reasons. The IAM statements themselves are asserted exactly, so without wildcards but the one
the service forces, and the function's environment holds nothing but its settings (tests/construct/test_construct.py).
"""

from __future__ import annotations

import json
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


def _synth_with_nag(build: Any, outdir: Path, **context: Any) -> tuple[dict[str, Any], int]:
    """The validation report of an app built with cdk.json's context and ``context``, and how many stacks it has."""
    app = cdk.App(context={**json.loads((ROOT / "cdk.json").read_text())["context"], **context}, outdir=str(outdir))
    Validations.of(app).add_plugins(AwsSolutionsChecks())
    build(app)
    assembly = app.synth()  # raises ValidationFailed on any unsuppressed finding
    return json.loads((outdir / "validation-report.json").read_text()), len(assembly.stacks_recursively)


HANDLER = "LookoutVisionModelGate/LookoutVisionModelPackagingJobHandler"
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
def test_the_example_app_has_no_unsuppressed_findings_and_acknowledges_only_what_it_must(
    tmp_path: Path, context: dict[str, str], acknowledged: list[tuple[str, str, str]]
) -> None:
    import app as example_app

    report, stacks = _synth_with_nag(example_app.build_app, tmp_path, **context)
    (plugin,) = report["pluginReports"]
    assert (plugin["pluginName"], plugin["conclusion"], plugin["violations"]) == ("AwsSolutions", "success", [])
    assert stacks == 2, "the gate stack and the edge deployment stack were both checked"
    suppressed = {s["acknowledgedId"]: s for s in plugin["suppressedViolations"]}
    assert sorted(suppressed) == sorted(finding for finding, _, _ in acknowledged)
    for finding, construct, reason in acknowledged:
        assert [c["constructPath"] for c in suppressed[finding]["violatingConstructs"]] == [construct]
        assert reason in suppressed[finding]["reason"]


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
