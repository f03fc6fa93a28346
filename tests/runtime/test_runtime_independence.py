"""The synthesized asset needs no lookoutvision model from the runtime: under awslambdaric on the newest
boto3/botocore (which has none), it answers from the model it carries, wherever AWS_DATA_PATH points.

The fault matrix runs the function as synthesized (AWS_DATA_PATH=/var/task/models, mapped to the task root). Here
that variable points where nothing is, or is unset, so only index.py's own lookup of the asset's models/ folder can
find the model; and the negative control, the asset without that folder, must answer FAILED naming the model
(otherwise the successes would prove nothing about it).
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import pytest
from lambda_runtime import LambdaHarness, SynthesizedApp, prepare_task_root
from support import COMPONENT_ARN, ResponseRecorder, description, make_event, ok, properties

PROJECT, JOB = "pcb", "pcb-v3-x86"


def answer(app: SynthesizedApp, work: Path, data_path: str | None, *, without_models: bool = False) -> Any:
    """The one answer of a Create for a SUCCEEDED job, from the function with ``data_path`` as its AWS_DATA_PATH."""
    environment = {k: v for k, v in app.function.environment.items() if k != "AWS_DATA_PATH"}
    if data_path is not None:
        environment["AWS_DATA_PATH"] = data_path
    spec = dataclasses.replace(app.function, environment=environment)
    task_root = prepare_task_root(spec, work / "task")
    if without_models:
        shutil.rmtree(task_root / "models")
    with LambdaHarness(spec, work, task_root=task_root, max_concurrency=1) as harness, ResponseRecorder() as recorder:
        harness.lookoutvision.script(PROJECT, JOB, [ok(description())])
        invocation = harness.function.invoke(make_event("Create", recorder.url, properties(PROJECT, JOB)))
        assert invocation.done.wait(60) and invocation.status == "success", invocation
        return recorder.only, harness.lookoutvision.calls()


@pytest.mark.parametrize("data_path", ["/opt/nowhere/models", None], ids=["AWS_DATA_PATH-elsewhere", "unset"])
def test_the_asset_answers_success_from_its_own_model(gate_app: SynthesizedApp, tmp_path: Path, data_path: Any) -> None:
    body, calls = answer(gate_app, tmp_path, data_path)

    assert body["Status"] == "SUCCESS", body["Reason"]
    assert body["Data"]["ComponentVersionArn"] == COMPONENT_ARN
    assert body["PhysicalResourceId"] == f"{PROJECT}/{JOB}"
    assert calls == 1


def test_without_its_model_the_asset_answers_failed_naming_it(gate_app: SynthesizedApp, tmp_path: Path) -> None:
    body, calls = answer(gate_app, tmp_path, None, without_models=True)

    assert calls == 0
    assert body["Status"] == "FAILED"
    assert "lookoutvision" in body["Reason"]
    assert "AWS_DATA_PATH" in body["Reason"] or "service model" in body["Reason"]
    assert "\n" not in body["Reason"]
