"""Figure 3, cold start: a fresh interpreter running the bundled handler, against one that only imports boto3.

Both sides run the same way as the runtime-independence test: ``python -I -S driver.py`` (no site-packages, no
PYTHON* variables), with only the asset (ours) and ``.deps/boto3-newest`` (boto3/botocore 1.44.5, as the Lambda
runtime would have) put on sys.path by the driver, the same environment, and AWS_DATA_PATH set to the asset's
models/ folder as the function's configuration does.

* ours: import ``index`` from the asset built by ``build_asset`` and answer one Create for a SUCCEEDED job: one
  DescribeModelPackagingJob against the loopback Lookout for Vision API and one PUT to the loopback ResponseURL,
  both served by threads of this process.
* bare: ``import boto3`` and create one Lookout for Vision client (the client ours creates), no call.

The clock starts in this process right before ``Popen`` (time.monotonic_ns, CLOCK_MONOTONIC, which is system-wide
on Linux) and stops inside the child when its work is done, before interpreter shutdown; so both sides include
process creation and interpreter start-up and neither includes teardown. One unmeasured warm-up pair runs first
(page cache). The children's own in-process time (from the driver's first line) is reported beside it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import NEWEST_BOTO3, median
from harness.cloudformation import ResponseRecorder, make_event
from harness.lookoutvision import FakeLookoutVision, description, ok
from harness.offline import offline_env

PROJECT, JOB = "pcb", "pcb-v3-x86"
CHILD_TIMEOUT_S = 60

_PRELUDE = r"""
import time
STARTED_NS = time.monotonic_ns()
import json
import sys

report_file = sys.argv[1]
"""

_FINISH = r"""
DONE_NS = time.monotonic_ns()
with open(report_file, "w") as out:
    json.dump({"started_ns": STARTED_NS, "done_ns": DONE_NS, **report}, out)
"""

OURS_DRIVER = (
    _PRELUDE
    + r"""
asset, deps, event_file = sys.argv[2:5]
sys.path[:0] = [asset, deps]


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
from cdk_lookoutvision_packaging_handler import index

index.handler(event, Context(900.0))
report = {"index_file": index.__file__, "boto3_file": sys.modules["boto3"].__file__}
"""
    + _FINISH
)

BARE_DRIVER = (
    _PRELUDE
    + r"""
deps = sys.argv[2]
sys.path[:0] = [deps]
import boto3

client = boto3.session.Session().client("lookoutvision")
report = {"boto3_file": boto3.__file__, "service": client.meta.service_model.service_name}
"""
    + _FINISH
)


def _child_env(scratch: Path, asset: Path, api_url: str) -> dict[str, str]:
    home = scratch / "home"
    home.mkdir(exist_ok=True)
    return offline_env(
        {},
        PATH="/usr/bin:/bin",
        HOME=str(home),
        AWS_CONFIG_FILE=str(home / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "no-credentials"),
        AWS_ENDPOINT_URL_LOOKOUTVISION=api_url,
        AWS_DATA_PATH=str(asset / "models"),
    )


def _run(args: list[str], env: dict[str, str], cwd: Path, report_file: Path) -> dict[str, Any]:
    report_file.unlink(missing_ok=True)
    started_ns = time.monotonic_ns()
    child = [sys.executable, "-I", "-S", *args]
    proc = subprocess.run(child, env=env, cwd=cwd, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, check=False)
    if proc.returncode != 0 or not report_file.is_file():
        raise RuntimeError(f"cold-start child failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(report_file.read_text())
    report["ms"] = (report["done_ns"] - started_ns) / 1e6
    report["in_process_ms"] = (report["done_ns"] - report["started_ns"]) / 1e6
    return report


def build_handler_asset(target: Path) -> Path:
    """The Lambda asset, written by the construct's own build_asset."""
    from cdk_lookoutvision_packaging._provider import build_asset

    build_asset(target)
    return target


def measure(runs: int, progress: Callable[[str], None] = lambda _message: None) -> dict[str, Any]:
    if not (NEWEST_BOTO3 / "boto3").is_dir():
        raise RuntimeError(f"{NEWEST_BOTO3} is missing: run `make setup` first")
    ours_ms: list[float] = []
    bare_ms: list[float] = []
    ours_in: list[float] = []
    bare_in: list[float] = []
    details: dict[str, Any] = {}
    with (
        tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp,
        FakeLookoutVision() as api,
        ResponseRecorder() as recorder,
    ):
        scratch = Path(tmp)
        asset = build_handler_asset(scratch / "asset")
        api.script(PROJECT, JOB, [ok(description())])
        env = _child_env(scratch, asset, api.url)
        ours_driver, bare_driver = scratch / "ours_driver.py", scratch / "bare_driver.py"
        ours_driver.write_text(OURS_DRIVER)
        bare_driver.write_text(BARE_DRIVER)
        report_file, event_file = scratch / "report.json", scratch / "event.json"

        def run_ours() -> dict[str, Any]:
            answers, calls = len(recorder.bodies), api.calls(PROJECT, JOB)
            event_file.write_text(json.dumps(make_event(response_url=recorder.url)))
            report = _run(
                [str(ours_driver), str(report_file), str(asset), str(NEWEST_BOTO3), str(event_file)],
                env,
                scratch,
                report_file,
            )
            if len(recorder.bodies) != answers + 1 or recorder.bodies[-1]["Status"] != "SUCCESS":
                raise RuntimeError(f"the handler did not answer SUCCESS exactly once: {recorder.bodies[answers:]}")
            if api.calls(PROJECT, JOB) != calls + 1:
                raise RuntimeError(f"expected one Describe call, got {api.calls(PROJECT, JOB) - calls}")
            if not Path(report["index_file"]).resolve().is_relative_to(asset.resolve()):
                raise RuntimeError(f"index was not imported from the asset: {report['index_file']}")
            return report

        def run_bare() -> dict[str, Any]:
            return _run([str(bare_driver), str(report_file), str(NEWEST_BOTO3)], env, scratch, report_file)

        run_ours(), run_bare()  # warm-up pair: page cache, not measured
        for index in range(runs):
            ours = run_ours()  # A B A B
            bare = run_bare()
            ours_ms.append(ours["ms"])
            ours_in.append(ours["in_process_ms"])
            bare_ms.append(bare["ms"])
            bare_in.append(bare["in_process_ms"])
            progress(f"cold start run {index + 1}/{runs}: ours {ours['ms']:.0f} ms, bare {bare['ms']:.0f} ms")
            details = {"ours_boto3_file": ours["boto3_file"], "bare_boto3_file": bare["boto3_file"]}
    pair_ratios = [a / b for a, b in zip(ours_ms, bare_ms, strict=True)]
    return {
        "ours_ms_median": round(median(ours_ms), 1),
        "bare_boto3_ms_median": round(median(bare_ms), 1),
        "ratio_median": round(median(ours_ms) / median(bare_ms), 3),
        "ratio_pairs_median": round(median(pair_ratios), 3),
        "ours_in_process_ms_median": round(median(ours_in), 1),
        "bare_in_process_ms_median": round(median(bare_in), 1),
        "runs": runs,
        "ours_runs_ms": [round(v, 1) for v in ours_ms],
        "bare_runs_ms": [round(v, 1) for v in bare_ms],
        "boto3": "boto3 from .deps/boto3-newest (the newest release, no lookoutvision model of its own)",
        **details,
    }
