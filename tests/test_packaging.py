"""packaging (start or adopt a job) and component (wait until Greengrass can deploy it), unit by unit.

Calls go through real botocore clients behind Stubbers, which check every request and response against the service
models: lookoutvision from the pinned botocore 1.40.60 (the last with it), greengrassv2 from the newest botocore.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.stub import Stubber
from support import VirtualClock, description

from model_packaging_job import component, contract
from model_packaging_job import packaging as pk
from model_packaging_job import packaging_job as pj

ROOT = Path(__file__).resolve().parents[1]
NEWEST_BOTOCORE_DATA = ROOT / ".deps" / "boto3-newest" / "botocore" / "data"
PROJECT = "pcb"
COMPONENT = "com.example.pcb-defects"
ARN = f"arn:aws:greengrass:us-east-1:123456789012:components:{COMPONENT}:versions:3.0.0"


def packaging(**greengrass: Any) -> pk.Packaging:
    config: dict[str, Any] = {
        "ComponentName": COMPONENT,
        "ComponentVersion": "3.0.0",
        "TargetDevice": "jetson_xavier",
        "S3OutputLocation": {"Bucket": "models-bucket", "Prefix": "lookoutvision/pcb/"},
    }
    config.update(greengrass)
    model_version = str(config.pop("ModelVersion", "3"))
    return pk.Packaging(model_version, {k: v for k, v in config.items() if v is not None})


JOB = contract.default_job_name(COMPONENT, "3.0.0")


def existing(p: pk.Packaging, status: str = "RUNNING", **overrides: Any) -> dict[str, Any]:
    """DescribeModelPackagingJob's description of a job started with ``p`` (changed by ``overrides``)."""
    desc = description(status, project=PROJECT, job=JOB)
    greengrass = {**p.greengrass, **overrides.pop("Greengrass", {})}
    desc["ModelPackagingConfiguration"] = {"Greengrass": greengrass}
    desc["ModelVersion"] = overrides.pop("ModelVersion", p.model_version)
    return desc


# --- validation ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"ModelVersion": "03"}, "ModelVersion '03' must match"),
        ({"ModelVersion": "v3"}, "ModelVersion 'v3' must match"),
        ({"ComponentVersion": "3.0"}, "ComponentVersion '3.0' is 3 characters long"),
        ({"ComponentVersion": "1234567.0.0"}, "must match"),
        ({"TargetDevice": None}, "exactly one of TargetDevice"),
        ({"TargetPlatform": {"Os": "LINUX", "Arch": "X86_64"}}, "exactly one of TargetDevice"),
        ({"TargetDevice": "jetson_nano"}, "TargetDevice 'jetson_nano' is not one of jetson_xavier"),
        ({"CompilerOptions": '{"mcpu": "x"}'}, "CompilerOptions go with TargetPlatform only"),
        ({"Tags": [{"Key": "team$", "Value": "vision"}]}, "tag key 'team$' has '$'"),
        ({"Tags": [{"Key": "k" * 129, "Value": "v"}]}, "is 129 characters long"),
        ({"Tags": [{"Key": "aws:team", "Value": "v"}]}, "starts with aws:"),
        ({"Tags": [{"Key": "k", "Value": "v" * 257}]}, "tag value"),
        ({"ComponentName": "com example"}, "ComponentName 'com example' must match"),
        ({"S3OutputLocation": {"Bucket": "b", "Prefix": "x"}}, "Bucket 'b' is 1 characters long"),
        ({"S3OutputLocation": {"Bucket": "models-bucket", "Prefix": "/abs"}}, "Prefix '/abs' must match"),
        ({"ModelVersion": "latest", "ComponentVersion": None}, "ModelVersion latest needs a ComponentVersion"),
    ],
)
def test_each_rule_of_the_configuration_is_checked_with_a_message_that_says_what_to_fix(
    change: dict[str, Any], fragment: str
) -> None:
    problems = pk.check(packaging(**change))
    assert any(fragment in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("platform", "options", "fragment"),
    [
        ({"Os": "LINUX", "Arch": "X86_64", "Accelerator": "NVIDIA"}, None, "missing gpu-code, trt-ver, cuda-ver"),
        ({"Os": "LINUX", "Arch": "ARM64", "Accelerator": "NVIDIA"}, '{"gpu-code": "sm_72"}', "missing trt-ver"),
        ({"Os": "LINUX", "Arch": "MIPS"}, None, "TargetPlatform.Arch 'MIPS' is not one of ARM64, X86_64"),
        ({"Os": "LINUX", "Arch": "X86_64"}, "[1, 2]", "CompilerOptions must be a JSON object"),
    ],
)
def test_a_target_platform_is_checked_with_its_compiler_options(
    platform: dict[str, str], options: str | None, fragment: str
) -> None:
    problems = pk.check(packaging(TargetDevice=None, TargetPlatform=platform, CompilerOptions=options))
    assert any(fragment in problem for problem in problems), problems


def test_a_complete_configuration_has_no_problem() -> None:
    nvidia = {"gpu-code": "sm_75", "trt-ver": "7.1.3", "cuda-ver": "10.2"}
    assert pk.check(packaging()) == []
    assert pk.check(packaging(Tags=[{"Key": "team", "Value": "vision ünd 2"}], ComponentDescription="PCB model")) == []
    platform = {"Os": "LINUX", "Arch": "X86_64", "Accelerator": "NVIDIA"}
    assert pk.check(packaging(TargetDevice=None, TargetPlatform=platform, CompilerOptions=json.dumps(nvidia))) == []


def test_the_property_as_cloudformation_sends_it_parses_back_to_the_same_configuration() -> None:
    p = pk.Packaging("3", dict(packaging().greengrass), "built by cdk deploy")
    assert pk.parse(json.loads(json.dumps(p.as_property()))) == p
    with pytest.raises(pk.PackagingError, match=r"Configuration\.Greengrass is required"):
        pk.parse({"ModelVersion": "3"})
    with pytest.raises(pk.PackagingError, match="unknown keys Extra"):
        pk.parse({**p.as_property(), "Extra": "1"})


def test_the_default_job_name_is_a_valid_job_name_distinct_for_distinct_components() -> None:
    names = {
        contract.default_job_name(name, version)
        for name in (COMPONENT, "com.example.pcb_defects", "com-example-pcb-defects", "x" * 128)
        for version in ("3.0.0", "4.0.0", "999999.999999.999999")
    }
    assert len(names) == 12
    for name in names:
        assert contract.JOB_NAME_RULE.problem(name) is None, name
    assert contract.default_job_name(COMPONENT, "3.0.0") == contract.default_job_name(COMPONENT, "3.0.0")
    assert contract.default_job_name(COMPONENT, "3.0.0").startswith("com-example-pcb-defects-3-0-0-")


def test_the_client_token_follows_the_job_and_its_configuration() -> None:
    token = packaging().client_token(PROJECT, JOB)
    assert contract.CLIENT_TOKEN_RULE.problem(token) is None
    assert packaging().client_token(PROJECT, JOB) == token
    assert packaging(ComponentVersion="3.0.1").client_token(PROJECT, JOB) != token
    assert packaging().client_token(PROJECT, "another-job") != token


def test_differences_name_what_decides_the_component_and_nothing_else() -> None:
    p = packaging()
    assert p.differences(existing(p)) == []
    # Tags and descriptions do not change what is built: a job that differs only there is the same job.
    assert p.differences(existing(p, Greengrass={"ComponentDescription": "other", "Tags": []})) == []
    found = p.differences(existing(p, ModelVersion="4", Greengrass={"TargetDevice": None, "CompilerOptions": None}))
    assert found == [
        "ModelVersion is 4, this configuration asks for 3",
        "TargetDevice is none, this configuration asks for jetson_xavier",
    ]
    moved = p.differences(existing(p, Greengrass={"S3OutputLocation": {"Bucket": "models-bucket"}}))
    assert moved == [
        "S3OutputLocation is s3://models-bucket/, this configuration asks for s3://models-bucket/lookoutvision/pcb/"
    ]
    # "latest" adopts whatever model version the job packaged.
    latest = packaging(ModelVersion="latest")
    assert latest.differences(existing(latest, ModelVersion="7")) == []


# --- ensure_job: start, adopt or refuse ----------------------------------------------------------------------------


@pytest.fixture
def lv() -> Iterator[tuple[Any, Stubber]]:
    session = botocore.session.get_session()
    client = session.create_client("lookoutvision", region_name="us-east-1", config=pj.client_config())
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _not_found(stubber: Stubber) -> None:
    stubber.add_client_error(
        "describe_model_packaging_job",
        "ResourceNotFoundException",
        "job not found",
        404,
        expected_params={"ProjectName": PROJECT, "JobName": JOB},
        response_meta={},
    )


def _ensure(client: Any, p: pk.Packaging) -> pk.Started:
    return pk.ensure_job(client, PROJECT, JOB, p, clock=VirtualClock().clock())


def test_a_missing_job_is_started_once_with_a_deterministic_client_token(lv: tuple[Any, Stubber]) -> None:
    client, stubber = lv
    p = packaging()
    _not_found(stubber)
    stubber.add_response(
        "start_model_packaging_job",
        {"JobName": JOB},
        {
            "ProjectName": PROJECT,
            "ModelVersion": "3",
            "JobName": JOB,
            "Configuration": {"Greengrass": dict(p.greengrass)},
            "ClientToken": p.client_token(PROJECT, JOB),
        },
    )
    assert _ensure(client, p) == pk.Started("started")


def test_an_existing_job_with_the_same_configuration_is_adopted_without_a_start(lv: tuple[Any, Stubber]) -> None:
    client, stubber = lv
    p = packaging()
    stubber.add_response("describe_model_packaging_job", {"ModelPackagingDescription": existing(p, "SUCCEEDED")})
    assert _ensure(client, p) == pk.Started("adopted")


def test_an_existing_job_with_another_configuration_is_refused_naming_the_difference(lv: tuple[Any, Stubber]) -> None:
    client, stubber = lv
    p = packaging()
    stubber.add_response("describe_model_packaging_job", {"ModelPackagingDescription": existing(p, ModelVersion="2")})
    started = _ensure(client, p)
    assert started.outcome == "refused"
    assert "ModelVersion is 2, this configuration asks for 3" in started.reason
    assert "A packaging job cannot change: give this configuration a new job_name" in started.reason


def test_a_start_that_conflicts_with_a_duplicate_adopts_the_job_the_duplicate_started(lv: tuple[Any, Stubber]) -> None:
    client, stubber = lv
    p = packaging()
    _not_found(stubber)
    stubber.add_client_error("start_model_packaging_job", "ConflictException", "job exists", 409)
    stubber.add_response("describe_model_packaging_job", {"ModelPackagingDescription": existing(p, "CREATED")})
    assert _ensure(client, p) == pk.Started("adopted")


@pytest.mark.parametrize(
    ("code", "status", "advice"),
    [
        ("ConflictException", 409, "Greengrass component com.example.pcb-defects version 3.0.0 probably exists"),
        ("ResourceNotFoundException", 404, "model version 3 of the project does not exist"),
        ("ValidationException", 400, "check that the model version is trained"),
        ("ServiceQuotaExceededException", 402, "ask for a higher quota"),
        ("AccessDeniedException", 403, "grant lookoutvision:StartModelPackagingJob on the model"),
    ],
)
def test_a_refused_start_answers_one_line_saying_what_to_change(
    lv: tuple[Any, Stubber], code: str, status: int, advice: str
) -> None:
    client, stubber = lv
    _not_found(stubber)
    stubber.add_client_error("start_model_packaging_job", code, "the service's own words", status)
    if code == "ConflictException":
        _not_found(stubber)  # no job has the name: the conflict is the component version
    started = _ensure(client, packaging())
    assert started.outcome == "refused"
    assert started.reason.startswith(f"Could not start model packaging job {PROJECT}/{JOB}: {code}: the service's own")
    assert advice in started.reason and "\n" not in started.reason


def test_a_throttled_start_is_retried_after_a_backoff(lv: tuple[Any, Stubber]) -> None:
    client, stubber = lv
    p = packaging()
    _not_found(stubber)
    stubber.add_client_error("start_model_packaging_job", "ThrottlingException", "slow down", 429)
    _not_found(stubber)
    stubber.add_response("start_model_packaging_job", {"JobName": JOB})
    clock = VirtualClock()
    assert pk.ensure_job(client, PROJECT, JOB, p, clock=clock.clock()) == pk.Started("started")
    assert len(clock.sleeps) == 1 and 0 < clock.sleeps[0] <= pj.BACKOFF_CAP_S


def test_a_missing_project_is_refused_without_a_start(lv: tuple[Any, Stubber]) -> None:
    client, stubber = lv
    stubber.add_client_error(
        "describe_model_packaging_job",
        "ResourceNotFoundException",
        "project not found",
        404,
        modeled_fields={"Message": "project not found", "ResourceType": "PROJECT", "ResourceId": PROJECT},
    )
    started = _ensure(client, packaging())
    assert started.outcome == "refused" and "project 'pcb' does not exist" in started.reason


# --- component: DescribeComponent until DEPLOYABLE -------------------------------------------------------------------


@pytest.fixture
def gg() -> Iterator[tuple[Any, Stubber]]:
    session = botocore.session.get_session()
    session.get_component("data_loader").search_paths.insert(0, str(NEWEST_BOTOCORE_DATA))
    client = session.create_client("greengrassv2", region_name="us-east-1", config=pj.client_config())
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _state(stubber: Stubber, state: str, message: str = "", errors: dict[str, str] | None = None) -> None:
    status: dict[str, Any] = {"componentState": state}
    if message:
        status["message"] = message
    if errors:
        status["errors"] = errors
    stubber.add_response("describe_component", {"arn": ARN, "status": status}, {"arn": ARN})


def _wait(client: Any, clock: VirtualClock, *, limit_s: float = 600.0, yield_s: float | None = None) -> Any:
    return component.wait_deployable(
        client,
        ARN,
        deadline=clock.start + limit_s,
        yield_at=None if yield_s is None else clock.start + yield_s,
        clock=clock.clock(),
    )


def test_the_newest_botocore_model_is_the_one_checked() -> None:
    assert (NEWEST_BOTOCORE_DATA / "greengrassv2").is_dir(), "make setup installs .deps/boto3-newest"


def test_a_deployable_component_passes_after_one_call(gg: tuple[Any, Stubber]) -> None:
    client, stubber = gg
    _state(stubber, "DEPLOYABLE")
    clock = VirtualClock()
    result = _wait(client, clock)
    assert (result.outcome, result.calls, clock.sleeps) == ("deployable", 1, [])


def test_requested_and_initiated_keep_waiting_until_deployable(gg: tuple[Any, Stubber]) -> None:
    client, stubber = gg
    stubber.add_client_error("describe_component", "ResourceNotFoundException", "not yet", 404)
    for state in ("REQUESTED", "INITIATED", "DEPLOYABLE"):
        _state(stubber, state)
    clock = VirtualClock()
    result = _wait(client, clock)
    assert (result.outcome, result.calls) == ("deployable", 4)
    assert all(pj.POLL_INTERVAL_S[0] <= s <= pj.POLL_INTERVAL_S[1] for s in clock.sleeps)


@pytest.mark.parametrize("state", ["FAILED", "DEPRECATED"])
def test_a_failed_or_deprecated_component_fails_with_its_own_message(gg: tuple[Any, Stubber], state: str) -> None:
    client, stubber = gg
    _state(stubber, state, "recipe rejected", {"artifact": "checksum mismatch"})
    result = _wait(client, VirtualClock())
    assert result.outcome == "failed"
    assert f"{ARN} is {state} and cannot be deployed: recipe rejected artifact: checksum mismatch" in result.reason


def test_access_denied_fails_naming_the_permission(gg: tuple[Any, Stubber]) -> None:
    client, stubber = gg
    stubber.add_client_error("describe_component", "AccessDeniedException", "no", 403)
    result = _wait(client, VirtualClock())
    assert result.outcome == "error" and "grant greengrass:DescribeComponent" in result.reason


def test_a_component_still_requested_at_the_deadline_times_out_and_yields_before_a_hand_off(
    gg: tuple[Any, Stubber],
) -> None:
    client, stubber = gg
    for _ in range(3):
        _state(stubber, "REQUESTED")
    assert _wait(client, VirtualClock(), limit_s=5.0).outcome == "timeout"
    result = _wait(client, VirtualClock(), yield_s=1.0)
    assert result.outcome == "yield" and result.next_look_at is not None
    reason = component.timeout_reason(ARN, "REQUESTED", 300)
    assert "still REQUESTED after 5.0 minutes" in reason
