"""Smoke: the asset `cdk synth` wrote runs as Lambda runs it (awslambdaric, a botocore without lookoutvision, nothing
of the development environment) and answers from the service model it carries (FAILED naming it without)."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import Any

import pytest
from e2e_support import (
    RUNTIME_DIR,
    RUNTIME_NOTE,
    RUNTIME_PYTHON,
    RUNTIME_TARGET,
    FunctionSpec,
    LocalLambda,
)
from support import COMPONENT_ARN, ResponseRecorder, description, make_event, ok
from support import properties as watching

PROJECT, JOB = "pcb", "pcb-v3-x86"
PROBE = r"""
import json, os, sys
import awslambdaric, botocore, botocore.session
os.environ.pop("AWS_DATA_PATH", None)
print(json.dumps({"python": sys.version.split()[0], "executable": sys.executable, "sys_path": sys.path,
    "awslambdaric": awslambdaric.__file__, "botocore_file": botocore.__file__,
    "bare_has_lookoutvision": "lookoutvision" in botocore.session.Session().get_available_services()}))
"""


def test_the_asset_runs_on_the_lambda_runtime_apart_from_the_development_environment(
    gate_function: FunctionSpec,
) -> None:
    # PROBE runs with exactly an execution environment's interpreter, flags, cwd and environment.
    with LocalLambda(gate_function) as function:
        environment = function.process_environment("127.0.0.1:9")
    probe = subprocess.run(
        [str(RUNTIME_PYTHON), "-S", "-c", PROBE],
        cwd=gate_function.asset_dir,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report = json.loads(probe.stdout.strip().splitlines()[-1])
    if RUNTIME_NOTE:
        warnings.warn(RUNTIME_NOTE, stacklevel=1)
    else:
        assert (report["python"][:5], report["executable"]) == (f"{RUNTIME_TARGET}.", str(RUNTIME_PYTHON))
    assert Path(report["botocore_file"]).is_relative_to(RUNTIME_DIR)
    assert Path(report["awslambdaric"]).is_relative_to(RUNTIME_DIR)
    assert report["bare_has_lookoutvision"] is False, "this botocore must not carry the model the asset brings"
    assert not any("site-packages" in p or ".venv" in p for p in report["sys_path"]), report["sys_path"]


def answers(spec: FunctionSpec, *requests: str) -> tuple[list[dict[str, Any]], int]:
    """The answers to a Create (and a Delete) for a SUCCEEDED job, and how many Describe calls they made."""
    with LocalLambda(spec) as function, ResponseRecorder() as recorder:
        function.lookoutvision.script(PROJECT, JOB, [ok(description())])
        for request_type in requests:
            physical_id = f"{PROJECT}/{JOB}" if request_type == "Delete" else None
            event = make_event(request_type, recorder.url, watching(PROJECT, JOB), physical_id=physical_id)
            function.invoke(event)
            assert [i.status for i in function.wait_request(event["RequestId"], 60)] == ["success"]
        return list(recorder.bodies), function.lookoutvision.calls()


@pytest.mark.parametrize("data_path", ["/opt/nowhere/models", None], ids=["AWS_DATA_PATH-elsewhere", "unset"])
def test_the_entry_point_answers_create_and_delete_from_the_asset_s_own_model(
    gate_function: FunctionSpec, data_path: str | None
) -> None:
    # The function as synthesized sets AWS_DATA_PATH=/var/task/models; here only index.py's own lookup can find it.
    environment = {k: v for k, v in gate_function.environment.items() if k != "AWS_DATA_PATH"}
    spec = dataclasses.replace(
        gate_function, environment=environment | ({"AWS_DATA_PATH": data_path} if data_path else {})
    )
    [create, delete], calls = answers(spec, "Create", "Delete")

    assert (create["Status"], create["PhysicalResourceId"]) == ("SUCCESS", f"{PROJECT}/{JOB}"), create["Reason"]
    assert create["Data"]["ComponentVersionArn"] == COMPONENT_ARN
    assert (delete["Status"], delete["PhysicalResourceId"], calls) == ("SUCCESS", f"{PROJECT}/{JOB}", 1)


def test_without_its_model_the_asset_answers_failed_naming_it(gate_function: FunctionSpec, tmp_path: Path) -> None:
    task_root = shutil.copytree(gate_function.asset_dir, tmp_path / "task")
    shutil.rmtree(task_root / "models")
    [body], calls = answers(dataclasses.replace(gate_function, asset_dir=task_root), "Create")

    assert (body["Status"], calls) == ("FAILED", 0)
    assert "lookoutvision" in body["Reason"] and "AWS_DATA_PATH" in body["Reason"], body["Reason"]
