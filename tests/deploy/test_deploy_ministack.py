"""The example app deployed for real: the CDK CLI bootstraps, deploys, updates, rolls back and destroys it on
MiniStack (a local AWS emulator), whose CloudFormation invokes our synthesized asset as a Lambda function against a
loopback Lookout for Vision.

Everything else in tests/ drives the handler with events we wrote; here CloudFormation writes them, so what it sends
(string property values, ServiceToken and ServiceTimeout inside ResourceProperties, the rollback Update, the Delete
on destroy) and what it makes of our answers (outputs, rollbacks, reasons on the console) are checked end to end.
Each event a function worker received is recorded by tests/e2e_shim as it arrived.

The tests run in file order against one MiniStack: each deploy starts from the stack the previous test left.
What MiniStack does not model is in the README ("End-to-end deploys on MiniStack").
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from e2e_support import ROOT, cli_env, run_cli, stop_process_group
from support import FakeGreengrass, FakeLookoutVision, HarnessError, component_arn, description, ok, wait_until

from cdk_lookoutvision_packaging_handler.contract import RESOURCE_TYPE, default_job_name

pytestmark = pytest.mark.slow

MINISTACK_BIN = ROOT / ".deps" / "ministack" / "bin" / "ministack"
ACCOUNT, REGION = "000000000000", "us-east-1"
GATE = "LookoutVisionModelGate"
CONSUMER = "LookoutVisionModelConsumer"
PROJECT = "pcb"
PARAMETER_PREFIX = "/lookoutvision/pcb"

# One synthesized app per job the stack is deployed with; all are synthesized at once while MiniStack boots. The
# "model3" and "model4" variants start their job from the stack (-c startJob=true) and differ in modelVersion alone.
JOBS = {"first": "pcb-v1", "second": "pcb-v2", "failing": "pcb-v3"}
COMPONENT = "com.example.pcb-defects"
STARTED = {"model3": default_job_name(COMPONENT, "3.0.0"), "model4": default_job_name(COMPONENT, "4.0.0")}
CONTEXT = {
    **{v: [f"jobName={job}", f"parameterPrefix={PARAMETER_PREFIX}"] for v, job in JOBS.items()},
    **{v: ["startJob=true", f"modelVersion={v.removeprefix('model')}"] for v in STARTED},
}
FAILURE_MESSAGE = "Greengrass component build failed: the model exceeds the target's memory"


@dataclass
class Deployment:
    """One MiniStack on 127.0.0.1, the loopback services its functions call, and the synthesized apps."""

    url: str
    lookoutvision: FakeLookoutVision
    greengrass: FakeGreengrass
    assemblies: dict[str, Path]
    work_dir: Path

    @property
    def env(self) -> dict[str, str]:
        return cli_env(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_ENDPOINT_URL=self.url)

    def client(self, service: str) -> Any:
        keys = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}  # MiniStack's own account (ACCOUNT)
        return boto3.session.Session(region_name=REGION, **keys).client(service, endpoint_url=self.url)

    def deploy(self, variant: str, *stacks: str, name: str, check: bool = True) -> tuple[Any, dict[str, Any]]:
        outputs_file = self.work_dir / f"outputs-{name}.json"
        args = ["--app", str(self.assemblies[variant]), *stacks, "--require-approval", "never", "--no-notices"]
        args += ["--progress", "events", "--outputs-file", str(outputs_file)]
        result = run_cli(["cdk", "deploy", *args], self.env, check=check)
        return result, json.loads(outputs_file.read_text()) if outputs_file.exists() else {}

    def destroy(self, *stacks: str) -> None:
        args = ("--force", "--no-notices")
        run_cli(["cdk", "destroy", "--app", str(self.assemblies["first"]), *stacks, *args], self.env)

    def stack(self, name: str) -> dict[str, Any]:
        [stack] = self.client("cloudformation").describe_stacks(StackName=name)["Stacks"]
        return dict(stack)

    def stack_outputs(self, name: str) -> dict[str, str]:
        return {o["OutputKey"]: o["OutputValue"] for o in self.stack(name).get("Outputs", [])}

    def parameter(self, name: str) -> str:
        return str(self.client("ssm").get_parameter(Name=name)["Parameter"]["Value"])

    def events(self) -> list[dict[str, Any]]:
        """Every custom resource event a function worker received (tests/e2e_shim records its stdin), in order."""
        path = self.work_dir / "events.jsonl"
        lines = [json.loads(line) for line in (path.read_text().splitlines() if path.exists() else [])]
        events = [line["event"] for line in lines if isinstance(line.get("event"), dict)]
        return [e for e in events if e.get("ResourceType") == RESOURCE_TYPE]

    def play_success(self, variant: str, version: str) -> None:
        """The job is RUNNING at the first look, SUCCEEDED after; Greengrass registers the component version a moment
        after that, so the gate waits for it too."""
        job = JOBS[variant]
        self.greengrass.script(component_arn(COMPONENT, version), ["REQUESTED", "DEPLOYABLE"])
        done = ok(description("SUCCEEDED", job=job, component_version=version))
        self.lookoutvision.script(PROJECT, job, [ok(description("RUNNING", job=job)), done])


def outputs_by_suffix(outputs: dict[str, str], suffix: str) -> str:
    """The one output whose logical id ends with ``suffix`` (the prefix is add_outputs()' choice)."""
    [found] = [value for key, value in outputs.items() if key.endswith(suffix)]
    return found


def _synth(variant: str, out: Path, env: dict[str, str]) -> Path:
    context = [arg for pair in CONTEXT[variant] for arg in ("-c", pair)]
    run_cli(["cdk", "synth", "--quiet", "--no-notices", "-o", str(out), *context], env)
    return out


def _healthy(process: subprocess.Popen[bytes], url: str) -> bool:
    if process.poll() is not None:
        raise HarnessError(f"MiniStack exited ({process.returncode})")
    with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/_ministack/health", timeout=2) as r:  # noqa: S310
        return bool(r.status == 200)
    return False


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    if not MINISTACK_BIN.exists():
        pytest.fail(f"{MINISTACK_BIN} is missing: `make setup` installs MiniStack (requirements-ministack.txt)")
    work = tmp_path_factory.mktemp("ministack")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with (
        FakeLookoutVision() as lookoutvision,
        FakeGreengrass() as greengrass,
        open(work / "ministack.log", "wb") as log,
    ):
        # MiniStack runs Python functions as workers of its own interpreter with its own environment, so that
        # environment is built from scratch: this is all of it, and all that is about AWS are the two endpoints.
        environment = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(work),
            "TMPDIR": str(work),
            "GATEWAY_PORT": str(port),
            "BIND_HOST": "127.0.0.1",
            "MINISTACK_HOST": "127.0.0.1",  # the host of the ResponseURL it hands to custom resources
            "LOG_LEVEL": "INFO",
            "PYTHONPATH": str(ROOT / "tests" / "e2e_shim"),
            "E2E_EVENTS_FILE": str(work / "events.jsonl"),
            "AWS_ENDPOINT_URL_LOOKOUTVISION": lookoutvision.url,
            "AWS_ENDPOINT_URL_GREENGRASSV2": greengrass.url,
        }
        process = subprocess.Popen(
            [str(MINISTACK_BIN)],
            cwd=work,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deployment = Deployment(f"http://127.0.0.1:{port}", lookoutvision, greengrass, {}, work)
        try:
            with ThreadPoolExecutor(max_workers=3) as pool:
                synths = {v: pool.submit(_synth, v, work / f"{v}.out", deployment.env) for v in CONTEXT}
                wait_until(lambda: _healthy(process, deployment.url), 60, "MiniStack to answer", poll_s=0.2)
                # Bootstrap needs no app: run it where there is no cdk.json.
                (work / "bootstrap").mkdir()
                bootstrap = ["cdk", "bootstrap", f"aws://{ACCOUNT}/{REGION}", "--no-notices"]
                run_cli(bootstrap, deployment.env, cwd=work / "bootstrap")
                deployment.assemblies = {v: future.result() for v, future in synths.items()}
            yield deployment
        except BaseException as exc:
            exc.add_note(f"MiniStack's log ends:\n{(work / 'ministack.log').read_text(errors='replace')[-3000:]}")
            raise
        finally:
            stop_process_group(process)


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every scalar of a property value with its path: objects and lists stay, what is in them arrives as strings."""
    if isinstance(value, dict | list):
        for key, item in value.items() if isinstance(value, dict) else enumerate(value):
            yield from _leaves(item, f"{path}.{key}")
    else:
        yield path, value


def test_create_waits_for_a_running_job_and_publishes_its_outputs(deployment: Deployment) -> None:
    deployment.play_success("first", "1.0.0")
    gate = deployment.deploy("first", GATE, CONSUMER, name="create")[1][GATE]
    # Which attribute each output reads and what Data holds: tests/construct and tests/unit; here that they resolve.
    arn = outputs_by_suffix(gate, "ComponentVersionArn")
    assert arn.endswith(":components:com.example.pcb-defects:versions:1.0.0"), arn
    [create] = deployment.events()
    assert (create["RequestType"], create["ResourceProperties"]["JobName"]) == ("Create", JOBS["first"])
    # The gate published its parameters, and the consumer read them and read the gate through Fn::GetStackOutput.
    for published in ("", "/consumer/FromParameters", "/consumer/FromStackOutput"):
        assert deployment.parameter(f"{PARAMETER_PREFIX}{published}/ComponentVersionArn") == arn


def test_update_to_a_new_job_changes_the_outputs_and_deletes_the_old_resource(deployment: Deployment) -> None:
    deployment.play_success("second", "2.0.0")
    before = len(deployment.events())
    arn = outputs_by_suffix(deployment.deploy("second", GATE, CONSUMER, name="update")[1][GATE], "ComponentVersionArn")
    assert arn.endswith(":versions:2.0.0"), arn
    assert deployment.parameter(f"{PARAMETER_PREFIX}/consumer/FromParameters/ComponentVersionArn") == arn
    assert deployment.parameter(f"{PARAMETER_PREFIX}/consumer/FromStackOutput/ComponentVersionArn") == arn

    update, delete = deployment.events()[before:]
    assert (update["RequestType"], update["PhysicalResourceId"]) == ("Update", f"{PROJECT}/{JOBS['first']}"), update
    old_and_new = (update["OldResourceProperties"]["JobName"], update["ResourceProperties"]["JobName"])
    assert old_and_new == (JOBS["first"], JOBS["second"])
    # The new job answered with a new physical id, a replacement: the old one is deleted in the clean-up phase,
    # with its own properties (that a Delete calls no API: tests/protocol/test_fuzz.py, every Delete).
    deleted = (delete["RequestType"], delete["PhysicalResourceId"], delete["ResourceProperties"]["JobName"])
    assert deleted == ("Delete", f"{PROJECT}/{JOBS['first']}", JOBS["first"]), delete


def test_update_to_a_failed_job_rolls_back_to_the_old_outputs(deployment: Deployment) -> None:
    job = JOBS["failing"]
    deployment.lookoutvision.script(PROJECT, job, [ok(description("FAILED", job=job, status_message=FAILURE_MESSAGE))])
    old_outputs = deployment.stack_outputs(GATE)
    before = len(deployment.events())

    result, _ = deployment.deploy("failing", GATE, name="failed update", check=False)

    assert result.returncode != 0, result.stdout
    assert FAILURE_MESSAGE in result.stdout, result.stdout[-4000:]
    assert deployment.stack(GATE)["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert deployment.stack_outputs(GATE) == old_outputs
    update, rollback = deployment.events()[before:]
    assert update["RequestType"] == "Update" and update["ResourceProperties"]["JobName"] == job
    # The rollback Update carries the old properties as new and the failed ones as old, and reached the handler.
    swapped = (rollback["ResourceProperties"]["JobName"], rollback["OldResourceProperties"]["JobName"])
    assert (rollback["RequestType"], swapped) == ("Update", (JOBS["second"], job)), rollback


def test_destroy_sends_delete_answered_without_an_api_call(deployment: Deployment) -> None:
    before_events = len(deployment.events())
    before_calls = deployment.lookoutvision.calls()

    deployment.destroy(CONSUMER, GATE)  # fails unless both stacks are deleted

    [delete] = deployment.events()[before_events:]
    assert (delete["RequestType"], delete["PhysicalResourceId"]) == ("Delete", f"{PROJECT}/{JOBS['second']}")
    assert deployment.lookoutvision.calls() == before_calls


def test_create_with_a_failed_job_rolls_back_and_a_clean_redeploy_works(deployment: Deployment) -> None:
    before = len(deployment.events())
    result, _ = deployment.deploy("failing", GATE, name="failed create", check=False)
    assert result.returncode != 0, result.stdout
    assert FAILURE_MESSAGE in result.stdout, result.stdout[-4000:]
    assert deployment.stack(GATE)["StackStatus"] == "ROLLBACK_COMPLETE"
    events = deployment.events()[before:]
    assert events[0]["RequestType"] == "Create", events
    # CloudFormation follows a failed Create with a Delete of that resource; MiniStack sends none (see the README).
    assert all(e["RequestType"] == "Delete" for e in events[1:]), events

    deployment.destroy(GATE)
    outputs = deployment.deploy("first", GATE, name="clean redeploy")[1]
    assert outputs_by_suffix(outputs[GATE], "ComponentVersion") == "1.0.0"


def test_the_stack_starts_its_job_and_a_new_model_version_replaces_it(deployment: Deployment) -> None:
    """Starting the job, for real: the gate (now watching pcb-v1) switches to starting its own job, then only
    modelVersion changes from 3 to 4. Each deploy starts one job with the handler's client token; the new job name
    is a new physical id, so CloudFormation deletes the old resource."""
    deployment.lookoutvision.projects.add(PROJECT)
    for variant, version in (("model3", "3.0.0"), ("model4", "4.0.0")):
        before = len(deployment.events())
        starts_before = len(deployment.lookoutvision.starts)
        deployment.greengrass.script(component_arn(COMPONENT, version), ["DEPLOYABLE"])
        outputs = deployment.deploy(variant, GATE, name=f"start {variant}")[1]
        assert outputs_by_suffix(outputs[GATE], "ComponentVersion") == version
        assert [start["job"] for start in deployment.lookoutvision.starts[starts_before:]] == [STARTED[variant]]
        update, delete = deployment.events()[before:]
        old_id = update["PhysicalResourceId"]
        assert update["RequestType"] == "Update" and "Packaging" in update["ResourceProperties"], update
        assert old_id != f"{PROJECT}/{STARTED[variant]}"
        assert (delete["RequestType"], delete["PhysicalResourceId"]) == ("Delete", old_id)


def test_every_event_has_cloudformation_shape_and_the_function_log_is_kept(deployment: Deployment) -> None:
    events = deployment.events()
    kinds = [e["RequestType"] for e in events]
    assert {"Create", "Update", "Delete"} <= set(kinds), kinds
    for event in events:
        props = event["ResourceProperties"]
        assert props["ServiceToken"].startswith(f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{GATE}-"), props
        assert isinstance(props["ServiceTimeout"], str) and props["ServiceTimeout"].isdigit(), props
        for where in ("ResourceProperties", "OldResourceProperties"):
            for path, value in _leaves(event.get(where, {}), where):
                assert isinstance(value, str), f"{path} arrived as {type(value).__name__}: {value!r}"

    # The function's log group (LoggingConfig.LogGroup) belongs to the stack, so it holds the invocations since the
    # last Create: one START and one REPORT each. Our asset must never log the URL it answers to.
    since_create = len(events) - max(i for i, e in enumerate(events) if e["RequestType"] == "Create")
    logs = deployment.client("logs")
    groups = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
    [group] = [g for g in groups if "LookoutVisionModelPackagingJobHandlerLogGroup" in g]
    lines = [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]]
    assert sum(line.startswith("REPORT RequestId:") for line in lines) == since_create, lines
    assert sum(line.startswith("START RequestId:") for line in lines) == since_create, lines
    # The handler's own INFO lines too (MiniStack's worker installs no logging handler; the handler adds one then).
    answers = [line for line in lines if '"answer": ' in line]
    assert len(answers) == since_create, lines
    leaked = [line for line in lines if any(e["ResponseURL"] in line for e in events)]
    assert not leaked, leaked
