"""ModelPackagingJob at synth time: the custom resource, the one shared function, its IAM, its log group and its asset.

One module-scoped App holds every stack these tests read and is synthesized once; each App synth costs a second or two.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from cdk_lookoutvision_packaging import ModelPackagingJob, _provider
from cdk_lookoutvision_packaging_handler import properties
from cdk_lookoutvision_packaging_handler.contract import DATA_KEYS, RESOURCE_TYPE

if TYPE_CHECKING:
    from conftest import Only

ROOT = Path(__file__).resolve().parents[2]
HANDLER_SRC = ROOT / "lambda" / "cdk_lookoutvision_packaging_handler"

FUNCTION_TYPE = "AWS::Lambda::Function"
# Every attribute property of the construct: each reads the custom resource Data key of its name in CamelCase.
ATTRIBUTES = [
    *("component_version_arn", "component_name", "component_version", "status", "status_message", "model_version"),
    *("creation_timestamp", "last_updated_timestamp"),
]


# What the CDK CLI sets for an app: resources carry their construct path and asset metadata.
CLI_CONTEXT = {"aws:cdk:enable-path-metadata": True, "aws:cdk:enable-asset-metadata": True}


@dataclass
class Synth:
    directory: Path
    stacks: dict[str, cdk.Stack]
    jobs: dict[str, ModelPackagingJob]
    templates: dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    outdir = tmp_path_factory.mktemp("cdk-out")
    app = cdk.App(outdir=str(outdir), context=CLI_CONTEXT)
    stacks: dict[str, cdk.Stack] = {}
    jobs: dict[str, ModelPackagingJob] = {}

    def stack(name: str) -> cdk.Stack:
        stacks[name] = cdk.Stack(app, name)
        return stacks[name]

    jobs["default"] = ModelPackagingJob(stack("Default"), "Job", project_name="pcb", job_name="pcb-v3-x86")
    jobs["component"] = ModelPackagingJob(
        stack("Component"),
        "Job",
        project_name="pcb",
        job_name="pcb-v3-arm",
        expected_component_name="com.example.pcb-defects",
        wait_timeout=cdk.Duration.minutes(55),
    )
    jobs["nowait"] = ModelPackagingJob(
        stack("NoWait"), "Job", project_name="pcb", job_name="pcb-v3-x86", wait_for_completion=False
    )
    # The shortest wait, given in another unit: it need only be a whole number of seconds.
    jobs["min"] = ModelPackagingJob(
        stack("Min"), "Job", project_name="pcb", job_name="pcb-v3-x86", wait_timeout=cdk.Duration.millis(60_000)
    )
    three = stack("Three")
    for n in (1, 2, 3):
        jobs[f"three{n}"] = ModelPackagingJob(three, f"Job{n}", project_name=f"project-{n}", job_name=f"job-{n}")
    tokens = stack("Tokens")
    project = cdk.CfnParameter(tokens, "Project", type="String")
    job = cdk.CfnParameter(tokens, "JobName", type="String")
    # expected_component_name cannot be a token (tests/construct/test_consumers.py): it keys the Greengrass deployment.
    jobs["tokens"] = ModelPackagingJob(
        tokens, "Job", project_name=project.value_as_string, job_name=job.value_as_string
    )

    assembly = app.synth()
    templates = {name: assembly.get_stack_artifact(s.artifact_id).template for name, s in stacks.items()}
    return Synth(Path(assembly.directory), stacks, jobs, templates)


@pytest.mark.parametrize(
    ("stack", "expected", "service_timeout"),
    [
        ("Default", {"JobName": "pcb-v3-x86", "WaitTimeoutSeconds": 2700}, 2700 + 300),
        (
            "Component",
            {"JobName": "pcb-v3-arm", "WaitTimeoutSeconds": 3300, "ExpectedComponentName": "com.example.pcb-defects"},
            3600,
        ),
        # A job that does not wait answers within five minutes.
        ("NoWait", {"JobName": "pcb-v3-x86", "WaitTimeoutSeconds": 2700, "WaitForCompletion": False}, 300),
        ("Min", {"JobName": "pcb-v3-x86", "WaitTimeoutSeconds": 60}, 360),
        # Tokens skip validation and synthesize as references.
        (
            "Tokens",
            {"ProjectName": {"Ref": "Project"}, "JobName": {"Ref": "JobName"}, "WaitTimeoutSeconds": 2700},
            3000,
        ),
    ],
)
def test_resource_has_exactly_the_documented_properties_and_the_handler_accepts_them(
    synth: Synth, only: Only, stack: str, expected: dict[str, Any], service_timeout: int
) -> None:
    function_id, _ = only(synth.templates[stack], FUNCTION_TYPE)
    _, resource = only(synth.templates[stack])
    props = resource["Properties"]
    # CDK renders ServiceTimeout as a number or as a numeric string.
    assert {**props, "ServiceTimeout": int(props["ServiceTimeout"])} == {
        "ServiceToken": {"Fn::GetAtt": [function_id, "Arn"]},
        "ServiceTimeout": service_timeout,
        "ProjectName": "pcb",
        "WaitForCompletion": True,
        **expected,
    }
    if stack != "Tokens":
        # CloudFormation delivers every custom resource property value as a string.
        sent = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in props.items()}
        read = (props["WaitForCompletion"], props["WaitTimeoutSeconds"], props.get("ExpectedComponentName"))
        assert properties.parse_properties(sent) == properties.JobProperties(
            "pcb", props["JobName"], *read, service_timeout, None
        )


def test_the_default_child_is_the_custom_resource_and_the_attributes_read_it_with_fn_getatt(
    synth: Synth, only: Only
) -> None:
    job = synth.jobs["default"]
    assert job.node.default_child.node.path == job.resource.node.path == "Default/Job/Resource"
    resource_id, resource = only(synth.templates["Default"])
    assert resource["Metadata"]["aws:cdk:path"] == "Default/Job/Resource/Default"
    for prop in ATTRIBUTES:
        key = prop.title().replace("_", "")
        value = getattr(job, prop)
        assert isinstance(value, str) and cdk.Token.is_unresolved(value), prop
        assert synth.stacks["Default"].resolve(value) == {"Fn::GetAtt": [resource_id, key]}, prop
        assert key in DATA_KEYS, f"{prop} reads {key}, which the handler does not answer"
    assert synth.jobs["component"].component_name == "com.example.pcb-defects"


def test_three_jobs_share_one_function_and_nothing_else(synth: Synth, only: Only) -> None:
    template = synth.templates["Three"]
    # One of each for the stack and one custom resource per job. Nothing polls (no EventBridge rule), and the log
    # group keeps its own retention (no LogRetention custom resource).
    assert Counter(r["Type"] for r in template["Resources"].values()) == {
        RESOURCE_TYPE: 3,
        FUNCTION_TYPE: 1,
        "AWS::IAM::Role": 1,
        "AWS::IAM::Policy": 2,
        "AWS::Logs::LogGroup": 1,
        "AWS::Lambda::EventInvokeConfig": 1,
    }
    function_id, _ = only(template, FUNCTION_TYPE)
    jobs = Template.from_json(template).find_resources(RESOURCE_TYPE).values()
    # A reference into the same stack, never an import from another stack.
    assert [r["Properties"]["ServiceToken"] for r in jobs] == [{"Fn::GetAtt": [function_id, "Arn"]}] * 3


def _stack(*jobs: dict[str, Any], outdir: Path | None = None) -> dict[str, Any]:
    """The template of a fresh App's stack holding one job per kwargs dict, named Job0, Job1, ..."""
    app = cdk.App(outdir=str(outdir) if outdir else None, context=CLI_CONTEXT)
    stack = cdk.Stack(app, "Budget")
    for index, kwargs in enumerate(jobs):
        ModelPackagingJob(stack, f"Job{index}", **{"project_name": "pcb", "job_name": f"job-{index}", **kwargs})
    return app.synth().get_stack_by_name("Budget").template


def _budget(template: dict[str, Any]) -> tuple[str, str]:
    (function,) = Template.from_json(template).find_resources(FUNCTION_TYPE).values()
    variables = function["Properties"]["Environment"]["Variables"]
    return variables["DESCRIBE_BUDGET_RPS"], variables["DESCRIBE_BUDGET_JOBS"]


@pytest.mark.parametrize(
    ("budgets", "rps"),
    [
        ((10, None, 2.5, "no wait"), "2.5"),
        # Documented as ":default: 4" and "the smallest applies": one job's 10 must not lift the others' 4.
        ((None, 10), "4"),
        ((10, None), "4"),
        ((10, 10), "10"),
    ],
)
def test_the_smallest_budget_any_job_asks_for_applies_to_the_whole_stack(budgets: tuple[Any, ...], rps: str) -> None:
    jobs = [
        {"wait_for_completion": False} if b == "no wait" else {} if b is None else {"describe_requests_per_second": b}
        for b in budgets
    ]
    assert _budget(_stack(*jobs)) == (rps, str(len(budgets)))


def test_adding_a_job_reconfigures_the_function_but_not_the_other_jobs() -> None:
    # The count lives in the function's environment: a new job must not make CloudFormation update (and so
    # re-describe) every job already in the stack.
    two, three = (Template.from_json(_stack(*[{}] * n)).find_resources(RESOURCE_TYPE) for n in (2, 3))
    for logical_id, resource in two.items():
        assert three[logical_id]["Properties"] == resource["Properties"]


def test_a_budget_too_small_for_the_stack_s_jobs_fails_synth_with_what_to_change() -> None:
    small = {"describe_requests_per_second": 0.1, "wait_timeout": cdk.Duration.minutes(5)}
    with pytest.raises(RuntimeError) as raised:
        _stack(*[small] * 9, {**small, "wait_timeout": cdk.Duration.minutes(3)})
    message = str(raised.value)
    assert "10 ModelPackagingJobs in this stack share 0.1 DescribeModelPackagingJob requests per second" in message
    assert "once every 100 s" in message
    assert "Budget/Job9 has 180 s to wait, room for 1 of the 4 looks it needs" in message
    assert "Raise describe_requests_per_second" in message and "lengthen wait_timeout" in message
    # The same budget with room for four looks per job synthesizes.
    _stack(*[{**small, "wait_timeout": cdk.Duration.minutes(7)}] * 10)
    # Jobs that do not wait need their look within five minutes.
    no_wait = {"describe_requests_per_second": 1, "wait_for_completion": False}
    assert _budget(_stack(*[no_wait] * 75)) == ("1", "75")
    with pytest.raises(RuntimeError, match="has 300 s to wait"):
        _stack(*[no_wait] * 76)


def _sorted(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(statements, key=lambda statement: json.dumps(statement, sort_keys=True))


# A job with an expected component passes only a deployable version of it: DescribeComponent on its versions.
COMPONENT_VERSIONS = {
    "Fn::Join": [
        "",
        [
            *("arn:", {"Ref": "AWS::Partition"}, ":greengrass:", {"Ref": "AWS::Region"}, ":"),
            *({"Ref": "AWS::AccountId"}, ":components:com.example.pcb-defects:versions:*"),
        ],
    ]
}


@pytest.mark.parametrize("stack", ["Default", "Three", "Component"])
def test_iam_statements_are_exact(synth: Synth, only: Only, stack: str) -> None:
    # Exact, so no statement can widen unnoticed: the only wildcard is the Resource "*" that DescribeModelPackagingJob
    # forces (it supports no resource types), and the wait may invoke only the function itself.
    template = Template.from_json(synth.templates[stack])
    function_id, function = only(template, FUNCTION_TYPE)
    role_id, role = only(template, "AWS::IAM::Role")
    log_group_id, _ = only(template, "AWS::Logs::LogGroup")
    assert function["Properties"]["Role"] == {"Fn::GetAtt": [role_id, "Arn"]}

    # No managed policy and no inline policy: the role's statements are the two policies below.
    assert sorted(role["Properties"]) == ["AssumeRolePolicyDocument", "Description"]
    assert role["Properties"]["AssumeRolePolicyDocument"] == {
        "Statement": [
            {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
        ],
        "Version": "2012-10-17",
    }
    template.resource_count_is("AWS::IAM::ManagedPolicy", 0)

    policies = {policy_id: p["Properties"] for policy_id, p in template.find_resources("AWS::IAM::Policy").items()}
    for policy in policies.values():
        assert (policy["Roles"], policy["PolicyDocument"]["Version"]) == ([{"Ref": role_id}], "2012-10-17")
    statements = {policy_id: _sorted(p["PolicyDocument"]["Statement"]) for policy_id, p in policies.items()}
    invoke = [{"Action": "lambda:InvokeFunction", "Effect": "Allow", "Resource": {"Fn::GetAtt": [function_id, "Arn"]}}]
    (invoke_id,) = [policy_id for policy_id, found in statements.items() if found == invoke]
    (main_id,) = set(statements) - {invoke_id}
    logs = ["logs:CreateLogStream", "logs:PutLogEvents"]
    expected = [
        {"Action": "lookoutvision:DescribeModelPackagingJob", "Effect": "Allow", "Resource": "*"},
        {"Action": logs, "Effect": "Allow", "Resource": {"Fn::GetAtt": [log_group_id, "Arn"]}},
    ]
    if stack == "Component":
        expected.append({"Action": "greengrass:DescribeComponent", "Effect": "Allow", "Resource": COMPONENT_VERSIONS})
    assert statements[main_id] == _sorted(expected)

    # The function depends on its main policy; the self-invoke policy depends on the function, so it must not be
    # something the function depends on (a cycle), and every custom resource waits for it.
    assert main_id in function.get("DependsOn", [])
    assert invoke_id not in function.get("DependsOn", [])
    for resource_id, resource in template.find_resources(RESOURCE_TYPE).items():
        assert invoke_id in resource.get("DependsOn", []), resource_id


def test_function_runs_python_3_13_the_newest_the_tests_can_run_on_arm64(synth: Synth, only: Only) -> None:
    # Not aws-cdk-lib's newest (3.14): CI machines can install 3.13 only, and the asset is tested on that.
    template = Template.from_json(synth.templates["Default"])
    log_group_id, log_group = only(template, "AWS::Logs::LogGroup")
    function_id, _ = only(template, FUNCTION_TYPE)
    # Exactly these variables: the data path, the log level and the polling budget, with no room for a secret.
    environment = {"AWS_DATA_PATH": "/var/task/models", "LOG_LEVEL": "INFO"}
    budget = {"DESCRIBE_BUDGET_RPS": "4", "DESCRIBE_BUDGET_JOBS": "1"}
    template.has_resource_properties(
        FUNCTION_TYPE,
        Match.object_like(
            {
                "Runtime": "python3.13",
                "Architectures": ["arm64"],
                "Handler": "cdk_lookoutvision_packaging_handler.index.handler",
                "LoggingConfig": Match.object_equals({"LogGroup": {"Ref": log_group_id}}),
                "Environment": Match.object_equals({"Variables": {**environment, **budget}}),
            }
        ),
    )
    retention = log_group["Properties"].get("RetentionInDays")
    assert isinstance(retention, int) and retention > 0
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        Match.object_like({"FunctionName": {"Ref": function_id}, "MaximumRetryAttempts": 0}),
    )


def _asset(template: dict[str, Any], directory: Path) -> tuple[str, Path]:
    """The S3 key of the function's code and the asset folder it was staged from."""
    (function,) = Template.from_json(template).find_resources(FUNCTION_TYPE).values()
    return function["Properties"]["Code"]["S3Key"], directory / function["Metadata"]["aws:asset:path"]


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_asset_contains_handler_crhelper_and_service_model(synth: Synth) -> None:
    _, asset = _asset(synth.templates["Default"], synth.directory)
    sources = {p.name: p.read_bytes() for p in HANDLER_SRC.glob("*.py")}
    assert _tree(asset / "cdk_lookoutvision_packaging_handler") == sources
    assert (asset / "crhelper" / "resource_helper.py").is_file()
    # Compiled files would make the asset hash depend on who imported what; tests never belong in the asset.
    stray = [p.relative_to(asset) for p in asset.rglob("*") if p.suffix == ".pyc" or p.name in ("__pycache__", "tests")]
    assert stray == []
    # AWS_DATA_PATH, /var/task/models, points at the model folder inside the code root (/var/task).
    model = asset / "models" / "lookoutvision" / "2020-11-20" / "service-2.json.gz"
    service = json.loads(gzip.decompress(model.read_bytes()))
    assert (service["metadata"]["endpointPrefix"], service["metadata"]["apiVersion"]) == ("lookoutvision", "2020-11-20")
    assert "DescribeModelPackagingJob" in service["operations"]


def test_asset_hash_ignores_caches_beside_the_handler_sources_and_follows_the_bundled_files(
    synth: Synth, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `make typecheck` leaves .mypy_cache in lambda/cdk_lookoutvision_packaging_handler and importing the handler writes
    # __pycache__ there. Neither goes into the asset, so neither may change its hash: a clean clone, a CI run and
    # a developer's machine must agree on the S3 key of unchanged sources, whatever the stack or the job.
    first_key, first_asset = _asset(synth.templates["Default"], synth.directory)
    handler = tmp_path / "handler"
    shutil.copytree(HANDLER_SRC, handler, ignore=shutil.ignore_patterns("__pycache__", ".mypy_cache", "*.pyc"))
    (handler / "__pycache__").mkdir()
    (handler / "__pycache__" / "index.cpython-311.pyc").write_bytes(b"\xa7\r\r\n stale bytecode")
    (handler / ".mypy_cache" / "3.11").mkdir(parents=True)
    (handler / ".mypy_cache" / "3.11" / "index.data.json").write_text('{"cache": true}')
    monkeypatch.setattr(_provider, "HANDLER_DIR", handler)
    real_build_asset, bundled = _provider.build_asset, []

    def build_asset(output_dir: Path) -> None:
        real_build_asset(output_dir)
        bundled.append(output_dir)
        if len(bundled) == 2:
            with (output_dir / "crhelper" / "resource_helper.py").open("a") as file:
                file.write("\n# a different crhelper release\n")

    monkeypatch.setattr(_provider, "build_asset", build_asset)

    def synth_asset(outdir: Path) -> tuple[str, Path]:
        cdk.AssetStaging.clear_asset_hash_cache()  # so that this App really bundles and hashes again
        return _asset(_stack({}, outdir=outdir), outdir)

    key, asset = synth_asset(tmp_path / "same")
    assert len(bundled) == 1
    assert _tree(asset) == _tree(first_asset)
    assert key == first_key and re.fullmatch(r"[0-9a-f]{64}\.zip", key)
    # crhelper and the service model are not in lambda/ (the package carries pinned copies of them): another
    # crhelper release must give another S3 key, or CloudFormation keeps running the old code.
    other_key, other_asset = synth_asset(tmp_path / "other")
    assert (other_asset / "crhelper" / "resource_helper.py").read_text().endswith("# a different crhelper release\n")
    assert other_key != first_key


def _number(stack: cdk.Stack) -> Any:
    return cdk.CfnParameter(stack, "Number", type="Number").value_as_number


# Each argument of the construct given a value it refuses (a function of the stack for a token), the error, and what it
# says. A wrong type is a TypeError naming the parameter and what it takes, as jsii-generated constructs raise for every
# argument. What each name rule accepts is contract's (tests/unit/test_contract.py) and the wait's bounds are the
# handler's too (tests/unit/test_properties.py); here: each argument is held to its rule under its own name at synth.
REFUSED: list[tuple[Any, ...]] = [
    ({"project_name": 3}, TypeError, "project_name takes a str, the Lookout for Vision project's name; got int 3"),
    ({"job_name": 3}, TypeError, "job_name takes a str"),
    ({"packaging": {"model_version": "3"}}, TypeError, "packaging takes a GreengrassPackaging("),
    ({"wait_for_completion": "false"}, TypeError, "wait_for_completion takes True or False; got str"),
    ({"wait_timeout": 30}, TypeError, "wait_timeout takes a Duration such as Duration.minutes(30)"),
    ({"expected_component_name": ["x"]}, TypeError, "expected_component_name takes a str"),
    ({"describe_requests_per_second": "4"}, TypeError, "describe_requests_per_second takes a"),
    ({"describe_requests_per_second": True}, TypeError, "describe_requests_per_second takes", "got bool True"),
    ({"scope": "Gate"}, TypeError, "argument scope"),
    ({"id": 3}, TypeError, "argument id"),
    ({"project_name": "my project"}, ValueError, "project_name: ProjectName 'my project' must match"),
    ({"job_name": "pcb_v3"}, ValueError, "job_name: JobName 'pcb_v3' must match"),
    ({"job_name": None}, ValueError, "job_name is required: name the model packaging job to wait for"),
    ({"expected_component_name": "com/x"}, ValueError, "expected_component_name: ComponentName 'com/x' must match"),
    (
        {"expected_component_name": lambda stack: cdk.CfnParameter(stack, "Name").value_as_string},
        ValueError,
        "expected_component_name '${Token[",
        "is a token; it must be a literal known at synth time, because AWS::GreengrassV2::Deployment.Components is a "
        "map keyed by component name and a map key cannot be a token",
        "not a CfnParameter",
    ),
    ({"wait_timeout": cdk.Duration.seconds(59)}, ValueError, "wait_timeout is 59 seconds; it must be between 1 and 55"),
    (
        {"wait_timeout": cdk.Duration.millis(60500)},
        ValueError,
        "wait_timeout is 1 minute 500 millis (60.5 s); it must be a whole number of seconds between 1 and 55 minutes",
        "Duration.seconds(60)",
    ),
    (
        {"wait_timeout": lambda stack: cdk.Duration.minutes(_number(stack))},
        ValueError,
        "wait_timeout is a token, which is not supported",
        "Duration.minutes(30)",
    ),
    ({"describe_requests_per_second": 20_000}, ValueError, "is 20000; it must be between 0.01 and 10000"),
    ({"describe_requests_per_second": float("nan")}, ValueError, "describe_requests_per_second is nan;"),
    ({"describe_requests_per_second": _number}, ValueError, "describe_requests_per_second must be a number known at"),
]


@pytest.mark.parametrize(("arguments", "error", "fragments"), [(a, e, f) for a, e, *f in REFUSED])
def test_a_refused_argument_is_named_and_the_construct_adds_nothing(
    arguments: dict[str, Any], error: type[Exception], fragments: list[str]
) -> None:
    stack = cdk.Stack(cdk.App(), "Gate")
    given = {"scope": stack, "id": "Job", "project_name": "pcb", "job_name": "pcb-v3-x86", **arguments}
    with pytest.raises(error) as raised:
        given = {k: v(stack) if callable(v) else v for k, v in given.items()}
        ModelPackagingJob(given.pop("scope"), given.pop("id"), **given)
    for fragment in fragments:
        assert fragment in str(raised.value)
    # Refused before it joined the tree: no job, no function (a token's CfnParameter is all the stack holds).
    assert [c for c in stack.node.children if not isinstance(c, cdk.CfnParameter)] == []


def test_constructs_resolves_to_the_library_not_to_the_source_root_even_from_the_repo_root() -> None:
    import constructs

    location = Path(constructs.__file__).resolve()
    assert "site-packages" in location.parts and not location.is_relative_to(ROOT / "constructs")
    assert not (ROOT / "constructs" / "__init__.py").exists()
    # `cdk synth` runs `python3 app.py` in the repo root, so the root is sys.path[0] there.
    code = "import importlib.util; print(importlib.util.find_spec('constructs').origin)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "site-packages" in Path(result.stdout.strip()).resolve().parts, result.stdout
