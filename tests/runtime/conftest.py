"""The runtime suites' one synthesis: the handler function of the example app's gate stack, as the real CDK CLI
synthesizes it."""

from __future__ import annotations

import json

import pytest
from e2e_support import FunctionSpec, cli_env, run_cli


@pytest.fixture(scope="session")
def gate_function(tmp_path_factory: pytest.TempPathFactory) -> FunctionSpec:
    outdir = tmp_path_factory.mktemp("gate-synth")
    run_cli(["cdk", "synth", "--quiet", "--no-notices", "-o", str(outdir)], cli_env())
    template = json.loads((outdir / "LookoutVisionModelGate.template.json").read_text())
    [function] = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    props, asset_dir = function["Properties"], outdir / function["Metadata"]["aws:asset:path"]
    variables = {str(k): str(v) for k, v in props["Environment"]["Variables"].items()}
    return FunctionSpec(props["Handler"], variables, float(props["Timeout"]), asset_dir)
