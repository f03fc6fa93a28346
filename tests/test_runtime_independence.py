"""The bundled Lambda asset runs on the newest boto3/botocore, which has no lookoutvision model of its own.

The asset is built with the construct's own ``build_asset``. A driver runs it in a fresh interpreter started with
``-I -S``: no site-packages (so the dev environment's botocore 1.40.60, which still has lookoutvision, cannot be
imported), no PYTHON* variables, no user site. The driver puts only the asset and ``.deps/boto3-newest`` (boto3 and
botocore 1.44.5 with their dependencies) on sys.path, proves that environment, then calls ``index.handler`` against
the loopback Lookout for Vision API and ResponseURL running in this test process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support import (
    COMPONENT_ARN,
    FakeLookoutVision,
    ResponseRecorder,
    description,
    make_event,
    ok,
)

ROOT = Path(__file__).resolve().parents[1]
NEWEST = ROOT / ".deps" / "boto3-newest"
NEWEST_BOTOCORE = "1.44.5"
PROJECT, JOB = "pcb", "pcb-v3-x86"

DRIVER = r"""
import json
import os
import sys
import time

asset, deps, event_file, report_file = sys.argv[1:5]
sys.path[:0] = [asset, deps]
report = {"sys_path": list(sys.path)}


def save():
    with open(report_file, "w") as out:
        json.dump(report, out)


try:
    import aws_cdk  # noqa: F401
    report["dev_environment_importable"] = True
except ImportError:
    report["dev_environment_importable"] = False

import botocore
import botocore.session

report["botocore_version"] = botocore.__version__
report["botocore_file"] = botocore.__file__
data_path = os.environ.pop("AWS_DATA_PATH", None)
report["bare_botocore_has_lookoutvision"] = "lookoutvision" in botocore.session.Session().get_available_services()
if data_path is not None:
    os.environ["AWS_DATA_PATH"] = data_path


class Context:
    def __init__(self, timeout_s):
        self._deadline = time.monotonic() + timeout_s
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:Handler"
        self.function_name = "Handler"
        self.aws_request_id = "00000000-0000-4000-8000-000000000000"
        self.log_stream_name = "2026/11/29/[$LATEST]0123456789abcdef"
        self.memory_limit_in_mb = 128

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


with open(event_file) as source:
    event = json.load(source)
try:
    from model_packaging_job import index
except BaseException as error:
    report["import_error"] = f"{type(error).__name__}: {error}"[:300]
    save()
    raise
import crhelper
from model_packaging_job import packaging_job

report["index_file"] = index.__file__
report["crhelper_file"] = crhelper.__file__
report["boto3_file"] = sys.modules["boto3"].__file__
packaging_job.POLL_INTERVAL_S = (0.05, 0.1)
packaging_job.BACKOFF_BASE_S = 0.1
packaging_job.BACKOFF_CAP_S = 0.2
started = time.monotonic()
try:
    # More than cr.HANDOFF_MARGIN_S (60 s) left, so the wait stays in this invocation.
    index.handler(event, Context(180))
except BaseException as error:
    report["handler_error"] = f"{type(error).__name__}: {error}"[:300]
report["handler_seconds"] = time.monotonic() - started
save()
"""


@pytest.fixture(scope="module")
def asset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cdk_lookoutvision_packaging._provider import build_asset

    out = tmp_path_factory.mktemp("asset") / "asset"
    build_asset(out)
    assert (out / "model_packaging_job" / "index.py").is_file()
    assert (out / "crhelper" / "resource_helper.py").is_file()
    assert (out / "models" / "lookoutvision" / "2020-11-20" / "service-2.json.gz").is_file()
    return out


@pytest.fixture
def api() -> Any:
    with FakeLookoutVision() as fake:
        yield fake


@pytest.fixture
def recorder() -> Any:
    with ResponseRecorder() as rec:
        yield rec


def _run_driver(
    tmp_path: Path, asset_dir: Path, api: FakeLookoutVision, recorder: ResponseRecorder, data_path: str | None
) -> dict[str, Any]:
    event_file, report_file, driver = tmp_path / "event.json", tmp_path / "report.json", tmp_path / "driver.py"
    event_file.write_text(json.dumps(make_event(response_url=recorder.url)))
    driver.write_text(DRIVER)
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "AWS_CONFIG_FILE": str(home / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-credentials"),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL_LOOKOUTVISION": api.url,
    }
    if data_path is not None:
        env["AWS_DATA_PATH"] = data_path
    proc = subprocess.run(
        [sys.executable, "-I", "-S", str(driver), str(asset_dir), str(NEWEST), str(event_file), str(report_file)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert report_file.is_file(), f"the driver wrote no report (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
    report: dict[str, Any] = json.loads(report_file.read_text())
    report["returncode"], report["stderr"] = proc.returncode, proc.stderr

    # The environment is what the test claims it is: the newest botocore, without lookoutvision, and nothing from
    # the development environment.
    assert report["botocore_version"] == NEWEST_BOTOCORE
    assert Path(report["botocore_file"]).resolve().is_relative_to(NEWEST.resolve())
    assert report["bare_botocore_has_lookoutvision"] is False
    assert report["dev_environment_importable"] is False
    assert not any("site-packages" in entry or ".venv" in entry for entry in report["sys_path"]), report["sys_path"]
    return report


def _assert_ran_from_asset(report: dict[str, Any], asset_dir: Path) -> None:
    assert "import_error" not in report, report.get("import_error")
    assert "handler_error" not in report, report.get("handler_error")
    assert Path(report["index_file"]).resolve().is_relative_to(asset_dir.resolve())
    assert Path(report["crhelper_file"]).resolve().is_relative_to(asset_dir.resolve())
    assert Path(report["boto3_file"]).resolve().is_relative_to(NEWEST.resolve())


@pytest.mark.parametrize(
    "data_path",
    ["asset-models", "/var/task/models", None],
    ids=["AWS_DATA_PATH=asset/models", "AWS_DATA_PATH=lambda-path", "AWS_DATA_PATH-unset"],
)
def test_asset_answers_success_on_the_newest_botocore(
    tmp_path: Path,
    asset: Path,
    api: FakeLookoutVision,
    recorder: ResponseRecorder,
    data_path: str | None,
) -> None:
    # The function's environment sets AWS_DATA_PATH=/var/task/models; index.py also adds its own models/ folder,
    # so the asset works wherever it is unpacked.
    api.script(PROJECT, JOB, [ok(description("RUNNING")), ok(description("RUNNING")), ok(description())])
    path = str(asset / "models") if data_path == "asset-models" else data_path

    report = _run_driver(tmp_path, asset, api, recorder, path)

    _assert_ran_from_asset(report, asset)
    assert report["returncode"] == 0, report["stderr"][-3000:]
    body = recorder.only
    assert body["Status"] == "SUCCESS", body["Reason"]
    assert body["Data"]["ComponentVersionArn"] == COMPONENT_ARN
    assert body["Data"]["Status"] == "SUCCEEDED"
    assert body["PhysicalResourceId"] == f"{PROJECT}/{JOB}"
    assert api.calls(PROJECT, JOB) == 3


def test_without_the_model_the_asset_answers_failed_naming_it(
    tmp_path: Path, asset: Path, api: FakeLookoutVision, recorder: ResponseRecorder
) -> None:
    # Negative control: the same asset without its models/ folder and without AWS_DATA_PATH. If this still
    # succeeded, the positive test would prove nothing about the bundled model.
    stripped = tmp_path / "asset-without-models"
    shutil.copytree(asset, stripped)
    shutil.rmtree(stripped / "models")
    api.script(PROJECT, JOB, [ok(description())])

    report = _run_driver(tmp_path, stripped, api, recorder, None)

    assert api.calls() == 0
    assert len(recorder.bodies) == 1, (
        f"CloudFormation must get exactly one answer even when the model is missing; got {len(recorder.bodies)} "
        f"(import error: {report.get('import_error')}; handler error: {report.get('handler_error')})"
    )
    body = recorder.only
    assert body["Status"] == "FAILED"
    assert "lookoutvision" in body["Reason"]
    assert "AWS_DATA_PATH" in body["Reason"] or "service model" in body["Reason"]
    assert "\n" not in body["Reason"]
