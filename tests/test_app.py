"""The example app through the real CDK CLI: cdk.json context, -c overrides, cfn-lint and a stable asset hash."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from model_packaging_job.contract import RESOURCE_TYPE

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"
NODE_BIN = ROOT / "node_modules" / ".bin"
STACK = "LookoutVisionModelGate"

pytestmark = pytest.mark.slow


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


def asset_key(template: dict[str, Any]) -> str:
    _, function = only_of_type(template, "AWS::Lambda::Function")
    return str(function["Properties"]["Code"]["S3Key"])


@pytest.fixture(scope="module")
def defaults(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    outdir = tmp_path_factory.mktemp("synth-defaults")
    return outdir, synthesized(outdir)


@pytest.fixture(scope="module")
def overridden(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    outdir = tmp_path_factory.mktemp("synth-overrides")
    return outdir, synthesized(outdir, "projectName=x", "jobName=y", "expectedComponentName=", "waitTimeoutMinutes=55")


def test_synth_uses_the_cdk_json_context_defaults(defaults: tuple[Path, dict[str, Any]]) -> None:
    _, template = defaults
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    resource_id, resource = only_of_type(template, RESOURCE_TYPE)
    function_id, _ = only_of_type(template, "AWS::Lambda::Function")
    props = resource["Properties"]
    assert props == {
        "ServiceToken": {"Fn::GetAtt": [function_id, "Arn"]},
        "ServiceTimeout": props["ServiceTimeout"],
        "ProjectName": context["projectName"],
        "JobName": context["jobName"],
        "WaitForCompletion": True,
        "WaitTimeoutSeconds": int(context["waitTimeoutMinutes"]) * 60,
        "ExpectedComponentName": context["expectedComponentName"],
    }
    assert int(props["ServiceTimeout"]) == int(context["waitTimeoutMinutes"]) * 60 + 300
    for key in ("ComponentVersionArn", "Status"):
        assert outputs_of(template, resource_id, key), (key, template.get("Outputs"))


def test_context_overrides_change_the_properties(overridden: tuple[Path, dict[str, Any]]) -> None:
    _, template = overridden
    _, resource = only_of_type(template, RESOURCE_TYPE)
    props = resource["Properties"]
    assert props["ProjectName"] == "x"
    assert props["JobName"] == "y"
    assert "ExpectedComponentName" not in props
    assert props["WaitTimeoutSeconds"] == 55 * 60
    assert int(props["ServiceTimeout"]) == 3600
    resource_id, _ = only_of_type(template, RESOURCE_TYPE)
    for key in ("ComponentVersionArn", "Status"):
        assert outputs_of(template, resource_id, key), (key, template.get("Outputs"))


def test_invalid_name_from_context_fails_with_a_clear_message(tmp_path: Path) -> None:
    result = cdk_synth(tmp_path, "jobName=pcb_v3")
    assert result.returncode != 0
    assert "JobName 'pcb_v3' must match [a-zA-Z0-9-]+" in result.stderr
    assert not (tmp_path / f"{STACK}.template.json").exists()


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


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_asset_hash_is_stable_across_cli_synths(
    defaults: tuple[Path, dict[str, Any]], overridden: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    first_dir, first = defaults
    second = synthesized(tmp_path)
    assert asset_key(second) == asset_key(first)
    # Names and timeouts are properties, not part of the asset.
    assert asset_key(overridden[1]) == asset_key(first)
    asset = "asset." + asset_key(first).removesuffix(".zip")
    assert _tree(tmp_path / asset) == _tree(first_dir / asset)
