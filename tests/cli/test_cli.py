"""The pipeline gate CLI against loopback Lookout for Vision and Greengrass APIs over real HTTP.

Most tests run ``cli.main(argv)`` in this process, with botocore's standard AWS_ENDPOINT_URL_LOOKOUTVISION and
AWS_ENDPOINT_URL_GREENGRASSV2 variables (or --endpoint-url) pointing at the fakes and the offline AWS environment of
conftest. Two run ``python -m cdk_lookoutvision_packaging`` as a pipeline would, for what only a real process shows: a
whole wait's exit 0 with the result on stdout and the progress on stderr, and SIGINT's exit 130. Polling is made fast
with --interval only; nothing in the CLI or in packaging_job is replaced. Why a job or a component ends as it does,
and in what words, is the handler's (tests/unit): here, only that the CLI maps each outcome to its exit code.

The CLI from the wheel alone, beside the newest botocore and without aws_cdk, is tests/deploy/test_wheel.py's.
"""

from __future__ import annotations

import importlib.metadata
import itertools
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from support import FakeGreengrass, FakeLookoutVision, Step, description, error, ok, packaged, packaging

from cdk_lookoutvision_packaging import cli
from cdk_lookoutvision_packaging_handler import component, contract, outbound
from cdk_lookoutvision_packaging_handler import job as jobs
from cdk_lookoutvision_packaging_handler.configuration import Packaging

ROOT = Path(__file__).resolve().parents[2]
PROJECT, JOB = "pcb", "pcb-v3-x86"
FAST = ("--interval", "0.2s")
ARN = description()["ModelPackagingOutputDetails"]["Greengrass"]["ComponentVersionArn"]


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.stdout))


def run_cli(*args: str, env: dict[str, str], python: Sequence[str] = (sys.executable,)) -> Run:
    command = [*python, "-m", "cdk_lookoutvision_packaging", *args]
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    return Run(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def fake() -> Iterator[FakeLookoutVision]:
    with FakeLookoutVision() as server:
        yield server


@pytest.fixture
def greengrass() -> Iterator[FakeGreengrass]:
    """Greengrass V2 on loopback, for wait's component check: every component version is DEPLOYABLE unless a test
    scripts another state."""
    with FakeGreengrass(default="DEPLOYABLE") as server:
        yield server


def endpoints(fake: FakeLookoutVision, greengrass: FakeGreengrass) -> dict[str, str]:
    return {"AWS_ENDPOINT_URL_LOOKOUTVISION": fake.url, "AWS_ENDPOINT_URL_GREENGRASSV2": greengrass.url}


@pytest.fixture
def main(
    fake: FakeLookoutVision,
    greengrass: FakeGreengrass,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Callable[..., Run]:
    """Run ``cli.main(argv)`` in this process, with botocore's endpoint variables pointing at the loopback APIs."""
    for variable, url in endpoints(fake, greengrass).items():
        monkeypatch.setenv(variable, url)

    def run(*argv: str) -> Run:
        code = cli.main(list(argv))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def wait_args(job: str = JOB, *extra: str) -> list[str]:
    return ["wait", "--project-name", PROJECT, "--job-name", job, *FAST, *extra]


def describe_args(job: str = JOB, *extra: str) -> list[str]:
    return ["describe", "--project-name", PROJECT, "--job-name", job, *extra]


@pytest.mark.wall_clock
def test_wait_exits_0_once_the_job_succeeded_and_its_component_version_is_deployable(
    fake: FakeLookoutVision, greengrass: FakeGreengrass
) -> None:
    throttled = error(429, "ThrottlingException", "Rate exceeded")
    fake.script(PROJECT, JOB, [ok(description("RUNNING")), ok(description("RUNNING")), throttled, ok(description())])
    # One real component poll (2-4.5 s): a version not listed yet waits the same way.
    greengrass.script(ARN, ["REQUESTED", "DEPLOYABLE"])
    # The endpoints from the flags this time (the other tests set botocore's AWS_ENDPOINT_URL_* variables).
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    flags = ("--endpoint-url", fake.url, "--greengrass-endpoint-url", greengrass.url, "--region", "eu-west-1")

    run = run_cli(*wait_args(), *flags, env=environment)

    assert run.code == 0, run.stderr
    assert tuple(run.json()) == contract.DATA_KEYS and run.json()["Status"] == "SUCCEEDED"
    assert fake.calls(PROJECT, JOB) == 4
    # One line per status change (not per poll) and per retry, each with the elapsed time.
    progress = [line for line in run.stderr.splitlines() if line.startswith("[") and f"{PROJECT}/{JOB}:" in line]
    assert len(progress) == 3, run.stderr
    assert re.fullmatch(rf"\[ *\d+\.\ds\] {PROJECT}/{JOB}: RUNNING", progress[0]), progress[0]
    retried = rf"\[ *\d+\.\ds\] {PROJECT}/{JOB}: ThrottlingException \(429\): Rate exceeded; retry 1 in \d+\.\ds"
    assert re.fullmatch(retried, progress[1]), progress[1]
    assert progress[2].endswith(f"{PROJECT}/{JOB}: SUCCEEDED (1 retry so far)")
    assert "in eu-west-1" in run.stderr and "SUCCEEDED after" in run.stderr and "(4 calls)" in run.stderr
    states = [line.split("] ", 1)[1] for line in run.stderr.splitlines() if line.startswith("[") and ARN in line]
    assert states == [f"{ARN}: REQUESTED", f"{ARN}: DEPLOYABLE"], run.stderr
    assert f"{ARN} is DEPLOYABLE after" in run.stderr
    # The component check signs for the job's Region too, on both of its calls.
    assert greengrass.calls(ARN) == 2
    assert all("/eu-west-1/greengrass/aws4_request" in r["headers"]["Authorization"] for r in greengrass.requests)


def test_wait_interrupted_exits_130_without_traceback(fake: FakeLookoutVision) -> None:
    fake.script(PROJECT, JOB, [ok(description("RUNNING"))])
    proc = subprocess.Popen(
        [sys.executable, "-m", "cdk_lookoutvision_packaging", *wait_args()],
        cwd=ROOT,
        env={**os.environ, "AWS_ENDPOINT_URL_LOOKOUTVISION": fake.url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As from a terminal: a run started in the background by a shell (`make test &`) passes SIGINT on ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stderr is not None
        seen = list(itertools.takewhile(lambda line: "RUNNING" not in line, proc.stderr))
        proc.send_signal(signal.SIGINT)
        _, rest = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, "".join(seen) + rest
    assert "Interrupted" in rest and "Traceback" not in rest


def test_help_and_version_exit_0(main: Callable[..., Run]) -> None:
    usage = main("--help")
    assert usage.code == 0 and "Exit codes: 0 SUCCEEDED" in usage.stdout
    # Each command's help is formatted too (a stray % in a help string would fail here).
    assert main("wait", "--help").code == main("start", "--help").code == 0
    distribution = "cdk-lookoutvision-packaging"
    version = main("--version")
    assert (version.code, version.stdout.strip()) == (0, f"{distribution} {importlib.metadata.version(distribution)}")


BAD = "the recipe names an artifact that does not exist"
NO_OUTPUT = {key: value for key, value in description("SUCCEEDED").items() if key != "ModelPackagingOutputDetails"}
OUT_OF_MEMORY = "Model compilation ran out of memory"
NOT_AUTHORIZED = "User is not authorized to perform this"
# The fake's answer, and what botocore raises for it.
JOB_DENIED = error(403, "AccessDeniedException", NOT_AUTHORIZED)
COMPONENT_DENIED = error(403, "AccessDeniedException", "not authorized to perform DescribeComponent")
# .invalid never resolves (RFC 6761), like the endpoint of a Region without Lookout for Vision.
UNRESOLVED = "https://lookoutvision.eu-west-9.amazonaws.invalid"


def advice(answered: Step, job: str) -> str:
    """What the job module says of the error a Describe ``answered`` (tests/unit/test_job.py), in the CLI's words."""
    fake, call = FakeLookoutVision(), jobs.describe_call(PROJECT, job, "us-east-1", cli.WORDING)
    fake.script(PROJECT, job, [answered])
    with pytest.raises(ClientError) as raised:
        fake.client().describe_model_packaging_job(ProjectName=PROJECT, JobName=job)
    return jobs.explain(outbound.classify(raised.value, call), call, PROJECT, job).message


# Which jobs count as failed or without Greengrass output, which component states as failed, and the words of each
# outcome are the handler's (tests/unit/test_job.py, test_component.py); the CLI adds its exit code and options.
SUCCEEDED = ok(description())
FAILED = ok(description("FAILED", status_message=OUT_OF_MEMORY))
COMPONENT_FAILED = component.failed_reason(ARN, "FAILED", {"message": BAD, "errors": {"recipe": BAD}})
ELSEWHERE = ("--region", "eu-west-9", "--endpoint-url", UNRESOLVED)
NOT_RESOLVED = [
    f"error: Cannot resolve the Lookout for Vision endpoint {UNRESOLVED} for Region eu-west-9",
    "Check the Region (--region, AWS_REGION, AWS_DEFAULT_REGION or the profile)",
]
NOT_DESCRIBED = [f"error: {component.describe_call(ARN).denied}", "; --no-component-check skips this check"]


@pytest.mark.parametrize(
    ("job", "component_state", "extra", "code", "status", "says"),
    [
        (FAILED, None, (), cli.EXIT_FAILED, "FAILED", [jobs.failed_reason(PROJECT, JOB, OUT_OF_MEMORY)]),
        (ok(NO_OUTPUT), None, (), cli.EXIT_FAILED, "SUCCEEDED", [jobs.no_output_reason(PROJECT, JOB)]),
        (SUCCEEDED, f"FAILED:{BAD}", (), cli.EXIT_FAILED, "SUCCEEDED", [COMPONENT_FAILED]),
        (JOB_DENIED, None, (), cli.EXIT_ERROR, None, [f"error: {advice(JOB_DENIED, JOB)}"]),
        (SUCCEEDED, None, ELSEWHERE, cli.EXIT_ERROR, None, NOT_RESOLVED),
        (SUCCEEDED, COMPONENT_DENIED, (), cli.EXIT_ERROR, "SUCCEEDED", NOT_DESCRIBED),
        (SUCCEEDED, COMPONENT_DENIED, ("--no-component-check",), cli.EXIT_SUCCEEDED, "SUCCEEDED", ["SUCCEEDED after"]),
    ],
    ids=["failed", "no-output-details", "component-failed", "denied", "unresolved", "component-denied", "unchecked"],
)
def test_wait_ends_each_outcome_at_once_with_its_exit_code_and_the_last_description_on_stdout(
    fake: FakeLookoutVision,
    greengrass: FakeGreengrass,
    main: Callable[..., Run],
    job: Any,
    component_state: Any,
    extra: tuple[str, ...],
    code: int,
    status: str | None,
    says: list[str],
) -> None:
    fake.script(PROJECT, JOB, [ok(description("RUNNING")), job])
    if component_state:
        greengrass.script(ARN, [component_state])

    run = main(*wait_args(JOB, *extra))

    assert run.code == code, run.stderr
    assert all(fragment in run.stderr for fragment in says), run.stderr
    assert "; retry " not in run.stderr and "Traceback" not in run.stderr
    # The last description is printed whenever there is one, so a pipeline can log what it saw.
    assert (run.json()["Status"] if status else run.stdout) == (status or "")
    # Only a job that succeeded says so, and only such a job's component is checked, once, unless told not to.
    assert ("SUCCEEDED after" in run.stderr) == (component_state is not None)
    assert greengrass.calls() == int(component_state is not None and "--no-component-check" not in extra)


@pytest.mark.wall_clock
@pytest.mark.parametrize(
    ("status", "answer", "says"),
    [
        ("RUNNING", None, f"waiting for model packaging job {PROJECT}/{JOB}; last status RUNNING"),
        ("SUCCEEDED", "REQUESTED", f"waiting for Greengrass component {ARN} to become deployable; last state REQ"),
    ],
    ids=["job-running", "component-requested"],
)
def test_wait_exits_2_when_the_job_or_its_component_version_is_not_done_by_the_timeout(
    fake: FakeLookoutVision, greengrass: FakeGreengrass, main: Callable[..., Run], status: str, answer: Any, says: str
) -> None:
    fake.script(PROJECT, JOB, [ok(description(status))])
    if answer is not None:
        greengrass.script(ARN, [answer])

    run = main(*wait_args(JOB, "--timeout", "1s"))

    assert run.code == cli.EXIT_TIMEOUT, run.stderr
    assert says in run.stderr and "Raise --timeout or run wait again" in run.stderr
    assert run.json()["Status"] == status
    # --interval 0.2s: a running job is looked at several times within the second.
    assert fake.calls(PROJECT, JOB) >= (3 if status == "RUNNING" else 1)


# Which failures are temporary (a 5xx, a refused connection) is outbound's (tests/unit/test_outbound.py).
@pytest.mark.wall_clock
def test_wait_retries_a_temporary_failure_until_the_timeout_announcing_no_retry_past_it(
    fake: FakeLookoutVision, main: Callable[..., Run]
) -> None:
    fake.script(PROJECT, JOB, [error(503, "ServiceUnavailableException", "Unavailable")])

    run = main(*wait_args(JOB, "--timeout", "1s"))

    assert run.code == cli.EXIT_TIMEOUT, run.stderr
    progress = [line for line in run.stderr.splitlines() if line.startswith("[")]
    announced = [line for line in progress if "; retry " in line]
    # Every announced retry happened, and no more: the calls are the first one plus the retries.
    assert fake.calls(PROJECT, JOB) == len(announced) + 1, run.stderr
    assert announced and progress[-1].endswith("Unavailable; no time left to retry"), run.stderr
    # A retry is never announced for later than the timeout.
    assert all(float(line.rsplit(" in ", 1)[1].rstrip("s")) <= 1.0 for line in announced), run.stderr
    assert "Raise --timeout or run wait again" in run.stderr


def test_describe_looks_once_and_exits_0_whatever_the_status_and_text_is_one_line_per_key(
    fake: FakeLookoutVision, main: Callable[..., Run]
) -> None:
    message = "Compilation failed:\n  step 3\r\nout of memory\n"
    fake.script(PROJECT, JOB, [ok(description("RUNNING")), ok(description("SUCCEEDED"))])
    fake.script(PROJECT, "failed", [ok(description("FAILED", job="failed", status_message=message))])

    running = main(*describe_args(JOB, "--output", "text"))
    waited = main(*wait_args("failed"), "--output", "text")
    failed = main(*describe_args("failed"))
    # The loopback API answers an unknown job 404 with its ResourceType, like the service.
    missing = main(*describe_args("nope"))

    # describe does not wait for a running job; wait's one look at the failed job is the other call on it.
    assert (running.code, failed.code, fake.calls(PROJECT, JOB), fake.calls(PROJECT, "failed")) == (0, 0, 1, 2)
    for run in (running, waited):
        lines = run.stdout.splitlines()
        assert [line.split(":", 1)[0] for line in lines] == list(contract.DATA_KEYS), run.stdout
    assert {"Status: RUNNING", "ModelVersion: 3", "StatusMessage:"} <= set(running.stdout.splitlines())
    assert "StatusMessage: Compilation failed: step 3 out of memory" in waited.stdout.splitlines()
    # The progress line on stderr stays one line too, and JSON keeps the message exactly, in the contract's key order.
    assert f"{PROJECT}/failed: FAILED - Compilation failed: step 3 out of memory" in waited.stderr.splitlines()[1]
    assert tuple(failed.json()) == contract.DATA_KEYS
    assert (failed.json()["Status"], failed.json()["StatusMessage"]) == ("FAILED", message)
    no_job = error(404, "ResourceNotFoundException", "Job nope not found", ResourceType="MODEL_PACKAGE_JOB")
    assert (missing.code, missing.stdout, fake.calls(PROJECT, "nope")) == (cli.EXIT_ERROR, "", 1)
    assert f"error: {advice(no_job, 'nope')}" in missing.stderr


def test_the_region_comes_from_the_flag_then_aws_region_then_botocore_or_exits_3(
    fake: FakeLookoutVision, main: Callable[..., Run], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The flag, then AWS_REGION (as in the AWS CLI v2), is the CLI's own rule; what follows (AWS_DEFAULT_REGION,
    the profile) is botocore's."""
    fake.script(PROJECT, JOB, [ok(description("SUCCEEDED"))])
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")

    def signed_for(*flag: str) -> str:
        run = main(*describe_args(JOB, *flag))
        assert run.code == 0, run.stderr
        # The Region in the SigV4 credential scope: .../<date>/<region>/lookoutvision/aws4_request.
        return str(fake.requests[-1]["headers"]["Authorization"].split("Credential=", 1)[1].split("/")[2])

    assert (signed_for(), signed_for("--region", "ap-south-1")) == ("eu-west-1", "ap-south-1")
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    calls = fake.calls()
    nowhere = main(*describe_args())
    assert (nowhere.code, fake.calls()) == (cli.EXIT_ERROR, calls), nowhere.stderr
    assert "pass --region, set AWS_REGION or AWS_DEFAULT_REGION, or set a region in the profile" in nowhere.stderr


COMPONENT = "com.example.pcb-defects"
STARTED = contract.default_job_name(COMPONENT, "3.0.0")
OUTPUT = "s3://pcb-lookoutvision-models/lookoutvision/pcb/"


def start_args(*extra: str, target: Sequence[str] = ("--target-device", "jetson_xavier")) -> list[str]:
    required = ("--project-name", PROJECT, "--model-version", "3", "--component-name", COMPONENT)
    return ["start", *required, "--s3-output-location", OUTPUT, *target, *extra]


def handlers_configuration(**greengrass: Any) -> Packaging:
    """The configuration a stack declaring the same job sends the handler (what the construct writes)."""
    return Packaging("3", packaging(**greengrass)["Configuration"]["Greengrass"])


@pytest.fixture
def starting(fake: FakeLookoutVision) -> FakeLookoutVision:
    """A project whose jobs, once started, answer CREATED and then SUCCEEDED."""
    fake.projects.add(PROJECT)
    return fake


OPTIONS = '{"cuda-ver": "10.2", "gpu-code": "sm_75", "trt-ver": "7.1.3"}'


def test_start_starts_the_job_the_stack_would_with_the_handlers_client_token(
    starting: FakeLookoutVision, main: Callable[..., Run]
) -> None:
    """Every option of the configuration; the default device's is shown by the adoption of its job (below)."""
    tags, platform = '{"team": "vision", "cost-center": "42"}', ("--target-platform", "linux/x86_64/nvidia")
    extra = ("--component-description", "PCB defects", "--component-tags", tags, "--compiler-options", OPTIONS)
    run = main(*start_args(*extra, target=platform))
    assert run.code == 0, run.stderr
    assert run.json() == {"JobName": STARTED, "ProjectName": PROJECT, "Outcome": "started"}
    assert f"Started model packaging job {PROJECT}/{STARTED}" in run.stderr
    [start] = starting.starts
    config = {"TargetDevice": None, "TargetPlatform": {"Os": "LINUX", "Arch": "X86_64", "Accelerator": "NVIDIA"}}
    config |= {"CompilerOptions": OPTIONS, "ComponentDescription": "PCB defects"}
    config |= {"Tags": [{"Key": "cost-center", "Value": "42"}, {"Key": "team", "Value": "vision"}]}
    expected = handlers_configuration(**config)
    assert start["token"] == expected.client_token(PROJECT, STARTED)
    assert start["body"]["Configuration"] == {"Greengrass": dict(expected.greengrass)}
    assert starting.calls(PROJECT, STARTED) == 1  # the Describe that found no such job


def test_start_adopts_an_identical_job_and_refuses_a_different_one(
    starting: FakeLookoutVision, main: Callable[..., Run]
) -> None:
    """Adopting and refusing are start's (tests/unit/test_start.py): the CLI maps them to 0 and 3, in its words."""
    request = {"ProjectName": PROJECT, "JobName": STARTED, "ModelVersion": "3"}
    same = handlers_configuration().greengrass
    starting.script(PROJECT, STARTED, [ok(packaged({**request, "Configuration": {"Greengrass": same}}))])
    # --format is a deprecated alias of --output on start.
    adopted = main(*start_args("--format", "text"))
    assert adopted.code == cli.EXIT_SUCCEEDED, adopted.stderr
    assert adopted.stdout.splitlines() == [f"JobName: {STARTED}", f"ProjectName: {PROJECT}", "Outcome: adopted"]
    assert "Adopted the existing model packaging job" in adopted.stderr
    assert "--format is deprecated: use --output" in adopted.stderr

    other = {**same, "S3OutputLocation": {"Bucket": "elsewhere"}}
    starting.script(PROJECT, STARTED, [ok(packaged({**request, "Configuration": {"Greengrass": other}}))])
    refused = main(*start_args())
    assert (refused.code, refused.stdout, starting.starts) == (cli.EXIT_ERROR, "", [])
    assert "give this configuration a new --component-version (the default job name follows it)" in refused.stderr


def test_start_wait_waits_like_wait_with_its_exit_codes(
    starting: FakeLookoutVision, greengrass: FakeGreengrass, main: Callable[..., Run]
) -> None:
    run = main(*start_args("--wait", *FAST))
    assert run.code == cli.EXIT_SUCCEEDED, run.stderr
    assert run.json()["JobName"] == STARTED and run.json()["Status"] == "SUCCEEDED"
    assert greengrass.calls(run.json()["ComponentVersionArn"]) == 1

    starting.after_start = lambda request: [ok(packaged(request, "FAILED"))]
    failed = main(*start_args("--wait", *FAST, "--job-name", "pcb-v3-again"))
    assert failed.code == cli.EXIT_FAILED, failed.stderr


WAIT = ["wait", "--project-name", PROJECT, "--job-name", JOB]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ([], "the following arguments are required: {wait,describe,start}"),
        (["describe", "--job-name", JOB], "the following arguments are required: --project-name"),
        # A later option wins over the valid one before it; a negative value is the option's value, not mistaken for
        # an option of its own.
        # The rules are contract's (tests/unit/test_contract.py): the CLI checks its arguments against them before
        # any call.
        ([*WAIT, "--job-name", "bad_name"], str(contract.JOB_NAME_RULE.problem("bad_name"))),
        ([*WAIT, "--project-name", "_pcb"], str(contract.PROJECT_NAME_RULE.problem("_pcb"))),
        ([*WAIT, "--timeout", "45 minutes"], "'45 minutes' is not a duration: use a number with a unit (45m, 90s, 1h"),
        ([*WAIT, "--interval", "0.01s"], "'0.01s' is too short: the interval must be at least 0.1s"),
        ([*WAIT, "--output", "yaml"], "argument --output: 'yaml' is not an output format: use json or text"),
        ([*WAIT, "--timeout", "-5s"], "'-5s' is negative: a duration must be 0 or more"),
        ([*WAIT, "--time", "-1m"], "'-1m' is negative"),
        ([*WAIT, "--timeout", "-5"], "'-5' is negative"),
        ([*WAIT, "--interval", "-0.5s"], "'-0.5s' is negative"),
        ([*WAIT, "--timeout", "30m1h"], "'30m1h' is not a duration: write its units in the order h, m, s, each at"),
        (start_args(target=("--target-platform", "linux/x86_64/nvidia")), "missing gpu-code, trt-ver, cuda-ver"),
        (start_args(target=("--target-platform", "linux")), "is not OS/ARCH"),
        (start_args("--target-platform", "linux/arm64"), "not allowed with argument"),
        ([*start_args()[:8], "pcb-lookoutvision-models", "--target-device", "jetson_xavier"], "must be an S3 URL"),
        (start_args("--component-version", "3"), str(contract.COMPONENT_VERSION_RULE.problem("3"))),
        (start_args("--component-tags", '{"team": 1}'), """argument --component-tags: '{"team": 1}' is not a JSON"""),
        (start_args("--component-tags", '{"aws:x": "y"}'), str(contract.tag_problem("aws:x", "y"))),
        (
            [*start_args()[:7], "--output", OUTPUT, "--target-device", "jetson_xavier"],
            f"argument --output: {OUTPUT!r} is not an output format: use json or text; the S3 location is "
            "--s3-output-location",
        ),
        # Without --wait, the options of waiting are refused, not ignored.
        (start_args("--timeout", "10m"), "--timeout goes with --wait: without --wait"),
        (start_args("--interval", "1s"), "--interval goes with --wait"),
        (start_args("--no-component-check"), "--no-component-check goes with --wait"),
        (start_args("--greengrass-endpoint-url", "x"), "--greengrass-endpoint-url goes with --wait"),
    ],
)
def test_bad_arguments_exit_3_with_the_value_and_the_rule_before_any_call(
    fake: FakeLookoutVision, main: Callable[..., Run], args: list[str], fragment: str
) -> None:
    run = main(*args)
    assert run.code == cli.EXIT_ERROR
    assert fragment in run.stderr
    assert "expected one argument" not in run.stderr and "Traceback" not in run.stderr
    assert run.stdout == "" and fake.requests == [] and fake.starts == []


RETRIED = rf"^\[ *[\d.]+s\] {PROJECT}/{STARTED}: ThrottlingException \(429\): Rate exceeded; retry 1 in \d+\.\ds$"


# Which refusals are retried, and for how long, is start's and waiting's (tests/unit/test_start.py, test_waiting.py).
@pytest.mark.parametrize(
    ("refusal", "code", "says"),
    [
        (error(429, "ThrottlingException", "Rate exceeded"), cli.EXIT_SUCCEEDED, RETRIED),
        # The service asks for more time than the start's retries have left: it gives up at once.
        (
            error(503, "ServiceUnavailableException", "Try later", headers={"Retry-After": "120"}),
            cli.EXIT_TIMEOUT,
            "Try later.*run start again later",
        ),
    ],
    ids=["throttled-once", "5xx-for-long"],
)
def test_a_refused_start_is_retried_reporting_each_retry_or_exits_2_saying_to_run_again_later(
    starting: FakeLookoutVision, main: Callable[..., Run], refusal: Any, code: int, says: str
) -> None:
    starting.refuse_start = lambda _: None if starting.starts[1:] else refusal

    run = main(*start_args())

    assert run.code == code, run.stderr
    assert re.search(says, run.stderr, re.M), run.stderr
    assert (len(starting.starts), run.stdout == "") == ((2, False) if code == cli.EXIT_SUCCEEDED else (1, True))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("45m", 2700), ("1h30m", 5400), ("1h30m15s", 5415), ("1h15s", 3615), ("0.5s", 0.5), ("1.5h", 5400), ("300", 300)],
)
def test_durations_in_order_are_accepted(text: str, seconds: float) -> None:
    assert cli.parse_duration(text) == seconds
