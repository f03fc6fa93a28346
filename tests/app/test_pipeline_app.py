"""The CDK Pipelines example (examples/pipeline_app.py): its pipeline stack synthesized in process, its Synth step's
own commands run on a copy of the repository, and its gate step's commands run in a fresh venv without aws-cdk-lib."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from support import ROOT, FakeGreengrass, FakeLookoutVision, description, ok

from cdk_lookoutvision_packaging import cli
from cdk_lookoutvision_packaging_handler import configuration, contract

PIPELINE_STACK = "LookoutVisionModelPipeline"
CONTEXT = json.loads((ROOT / "cdk.json").read_text())["context"]


@dataclass
class Pipeline:
    """The pipeline app synthesized in process: the pipeline stack's template and its Production stage's gate."""

    template: dict[str, Any]
    gate: dict[str, Any]


def synthesize(**context: Any) -> Pipeline:
    """The pipeline app with cdk.json's context and ``context`` over it (what -c passes: strings)."""
    sys.path.insert(0, str(ROOT / "examples"))
    import pipeline_app

    app = cdk.App(context={**CONTEXT, **context})
    pipeline_app.build_pipeline_app(app)
    assembly = app.synth()
    stage = app.node.find_child(PIPELINE_STACK).node.find_child("Production")
    assert isinstance(stage, cdk.Stage)
    (gate,) = [s for s in stage.synth().stacks if s.stack_name.endswith("ModelGate")]
    return Pipeline(assembly.get_stack_by_name(PIPELINE_STACK).template, gate.template)


@pytest.fixture(scope="module")
def watching() -> Pipeline:
    """The pipeline with cdk.json's context: its stage watches a job started elsewhere."""
    return synthesize()


@pytest.fixture(scope="module")
def starting() -> Pipeline:
    """The pipeline with -c startJob=true: its stage's gate stack declares the job."""
    return synthesize(startJob="true", componentTags='{"team": "vision"}', componentDescription="PCB defects")


def _action_project(template: dict[str, Any], stage_name: str, action_name: str | None = None) -> dict[str, Any]:
    """The CodeBuild project that runs one action of the pipeline; by default the stage's first action, which runs
    before its stacks deploy."""
    (pipeline,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    stage = next(s for s in pipeline["Properties"]["Stages"] if s["Name"] == stage_name)
    first = min(stage["Actions"], key=lambda action: action["RunOrder"])
    action = next(a for a in stage["Actions"] if a["Name"] == action_name) if action_name else first
    project: dict[str, Any] = template["Resources"][action["Configuration"]["ProjectName"]["Ref"]]
    return project


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _permissions(template: dict[str, Any], role: str) -> set[tuple[str, str]]:
    """(action, resource) for every statement of the policies attached to ``role`` (a logical id) that calls Lookout
    for Vision, Greengrass, KMS, or writes to S3: what a gate may do with the model (not CodeBuild's own logs and
    artifacts)."""
    about_the_model = ("lookoutvision:", "greengrass:", "kms:", "s3:PutObject", "s3:GetBucketLocation")
    return {
        (action, json.dumps(resource, sort_keys=True))
        for policy in template["Resources"].values()
        if policy["Type"] == "AWS::IAM::Policy" and {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in _as_list(statement["Action"])
        if action.startswith(about_the_model)
        for resource in _as_list(statement["Resource"])
    }


def _buildspec(project: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(project["Properties"]["Source"]["BuildSpec"])
    return spec


def _commands(project: dict[str, Any]) -> list[str]:
    """The commands a CodeBuild project runs, phase by phase."""
    phases = _buildspec(project)["phases"]
    return [c for phase in ("install", "pre_build", "build") for c in phases.get(phase, {}).get("commands", [])]


def _outside_the_repo_env(**extra: str) -> dict[str, str]:
    """This environment without the repo's venv and Node.js on PATH, and without a Region: the step's commands must
    find their own and name theirs."""
    dropped = ("PYTHONPATH", "VIRTUAL_ENV", "CDK_OUTDIR", "CDK_CONTEXT_JSON", "AWS_REGION", "AWS_DEFAULT_REGION")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p and not p.startswith(str(ROOT)))
    env.update(extra)
    return env


def _run_step(commands: list[str], cwd: Path, env: dict[str, str]) -> None:
    for command in commands:
        result = subprocess.run(
            ["bash", "-eo", "pipefail", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
        )
        assert result.returncode == 0, f"{command}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the pipeline's source action checks out: the repo's tracked files, in a folder of their own, with the
    repo's installed tools linked in (so `make setup` finds them up to date instead of installing again)."""
    assert subprocess.run(["make", "-q", "setup"], cwd=ROOT).returncode == 0, "run `make setup` first"
    folder = tmp_path_factory.mktemp("pipeline-source")
    ls_files = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    listed = subprocess.check_output(ls_files, cwd=ROOT, text=True).split("\0")
    for rel in filter(None, listed):
        if (ROOT / rel).is_file():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, folder / rel)
    for tool in (".venv", "node_modules", ".deps"):
        (folder / tool).symlink_to(ROOT / tool)
    return folder


@pytest.mark.slow
def test_pipeline_synth_step_builds_an_assembly_that_gates_the_stage_and_passes_cfn_lint(
    watching: Pipeline, source: Path
) -> None:
    """The Synth step's own commands, taken from its buildspec, and the assembly it hands on."""
    project = _action_project(watching.template, "Build", "Synth")
    _run_step(_commands(project), source, _outside_the_repo_env())
    synth_step_assembly = source / _buildspec(project)["artifacts"]["base-directory"]
    artifacts = json.loads((synth_step_assembly / "manifest.json").read_text())["artifacts"]
    # Self-mutation deploys this stack from the assembly: it must be there, or the pipeline never updates itself.
    assert artifacts[PIPELINE_STACK]["type"] == "aws:cloudformation:stack"
    template_file = synth_step_assembly / artifacts[PIPELINE_STACK]["properties"]["templateFile"]
    # The Production stage deploys its stacks from a nested assembly.
    (stage,) = [a for a in artifacts.values() if a["type"] == "cdk:cloud-assembly"]
    nested = synth_step_assembly / stage["properties"]["directoryName"]
    nested_artifacts = json.loads((nested / "manifest.json").read_text())["artifacts"].values()
    stacks = {a["displayName"] for a in nested_artifacts if a["type"] == "aws:cloudformation:stack"}
    assert stacks == {f"{PIPELINE_STACK}/Production/ModelGate", f"{PIPELINE_STACK}/Production/EdgeDeployment"}
    templates = sorted(synth_step_assembly.rglob("*.template.json"))

    # The pipeline waits for the job before the stage deploys the gate, and the gate before the edge deployment.
    pipeline_template = json.loads(template_file.read_text())
    (pipeline,) = [r for r in pipeline_template["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    stage = next(s for s in pipeline["Properties"]["Stages"] if s["Name"] == "Production")
    order = {a["Name"]: a["RunOrder"] for a in stage["Actions"]}
    assert order["WaitForModelPackagingJob"] < order["ModelGate.Deploy"] < order["EdgeDeployment.Deploy"]
    cfn_lint = [str(ROOT / ".venv" / "bin" / "cfn-lint"), "--config-file", str(ROOT / ".cfnlintrc.yaml")]
    lint = subprocess.run([*cfn_lint, *map(str, templates)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


@pytest.mark.slow
def test_pipeline_gate_step_runs_the_cli_with_botocore_and_this_package_only(
    watching: Pipeline, source: Path, tmp_path: Path
) -> None:
    project = _action_project(watching.template, "Production", "WaitForModelPackagingJob")
    commands = _commands(project)
    variables = {v["Name"]: v["Value"] for v in project["Properties"]["Environment"].get("EnvironmentVariables", [])}
    # The gate stack is environment-agnostic, so its Region is the one the pipeline deploys it to.
    (region_variable,) = [name for name, value in variables.items() if value == {"Ref": "AWS::Region"}]
    assert f'--region "${region_variable}"' in commands[-1]

    # A fresh venv with no aws-cdk-lib anywhere, and pip restricted to the offline wheelhouse (the pipeline's
    # CodeBuild uses the public index; the wheelhouse holds the same pinned releases).
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    wheels = str(ROOT / ".deps" / "wheelhouse")
    env = _outside_the_repo_env(PIP_NO_INDEX="1", PIP_FIND_LINKS=wheels, PIP_DISABLE_PIP_VERSION_CHECK="1")
    env["PATH"] = os.pathsep.join([str(venv / "bin"), env["PATH"]])
    _run_step(commands[:-1], source, env)
    # Not from the repo root, where the constructs/ source root would import as a namespace package.
    modules = "aws_cdk", "jsii", "constructs", "boto3", "crhelper"
    probe = f"import importlib.util as u; print([m for m in {modules} if u.find_spec(m)])"
    installed = subprocess.run([venv / "bin" / "python", "-c", probe], cwd=tmp_path, env=env, capture_output=True)
    assert installed.stdout.decode().strip() == "[]", installed

    # The wait command itself, against a loopback Lookout for Vision and Greengrass in the Region CodeBuild would pass.
    with FakeLookoutVision() as fake, FakeGreengrass(default="DEPLOYABLE") as greengrass:
        fake.script("pcb", "pcb-v3-x86", [ok(description("SUCCEEDED"))])
        endpoints = {"AWS_ENDPOINT_URL_LOOKOUTVISION": fake.url, "AWS_ENDPOINT_URL_GREENGRASSV2": greengrass.url}
        step_env = {**env, region_variable: "eu-west-1", **endpoints}
        bash = ["bash", "-eo", "pipefail", "-c", commands[-1]]
        run = subprocess.run(bash, cwd=tmp_path, env=step_env, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stdout + run.stderr
        assert json.loads(run.stdout)["Status"] == "SUCCEEDED"
        signed = [r["headers"]["Authorization"] for r in fake.requests]
        assert signed and all("/eu-west-1/lookoutvision/aws4_request" in header for header in signed)


def test_started_job_mode_starts_the_stacks_own_job_before_the_stage_deploys(
    starting: Pipeline, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The pre-step's last command (the CLI) run in this process, in Region us-east-1, against loopback endpoints."""
    project = _action_project(starting.template, "Production")
    command = _commands(project)[-1]
    for variable in project["Properties"]["Environment"].get("EnvironmentVariables", []):
        command = command.replace(f'"${variable["Name"]}"', "us-east-1")
    assert shlex.split(command)[:3] == ["python", "-m", "cdk_lookoutvision_packaging"], command
    project_name = CONTEXT["projectName"]
    with FakeLookoutVision() as fake, FakeGreengrass(default="DEPLOYABLE") as greengrass:
        fake.projects.add(project_name)
        monkeypatch.setenv("AWS_ENDPOINT_URL_LOOKOUTVISION", fake.url)
        monkeypatch.setenv("AWS_ENDPOINT_URL_GREENGRASSV2", greengrass.url)
        code = cli.main(shlex.split(command)[3:])
    out, err = capsys.readouterr()

    # No job of that name exists yet: the step starts it (a `wait` would exit 3 here) and waits for it.
    assert code == cli.EXIT_SUCCEEDED, err
    assert json.loads(out)["Status"] == "SUCCEEDED"
    # It started the job the stack declares, with its configuration: the stack then adopts it (same name, same
    # configuration), and the client token is the stack's, so neither side ever starts a second job.
    [start] = fake.starts
    (properties,) = [
        r["Properties"] for r in starting.gate["Resources"].values() if r["Type"] == contract.RESOURCE_TYPE
    ]
    declared = configuration.parse(properties["Packaging"])
    assert (start["project"], start["job"]) == (project_name, properties["JobName"])
    assert start["body"]["Configuration"] == declared.as_property()["Configuration"]
    assert start["token"] == declared.client_token(project_name, properties["JobName"])


@pytest.mark.parametrize("mode", ["watching", "starting"])
def test_the_gate_step_may_do_with_the_model_what_the_gates_own_function_may(
    mode: str, request: pytest.FixtureRequest
) -> None:
    pipeline: Pipeline = request.getfixturevalue(mode)
    project = _action_project(pipeline.template, "Production")
    step = _permissions(pipeline.template, project["Properties"]["ServiceRole"]["Fn::GetAtt"][0])
    (function,) = [r for r in pipeline.gate["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    gate = _permissions(pipeline.gate, function["Properties"]["Role"]["Fn::GetAtt"][0])

    assert step == gate
    assert any(action == "lookoutvision:StartModelPackagingJob" for action, _ in step) is (mode == "starting")


def test_the_synth_step_sets_up_only_what_synth_needs(watching: Pipeline, tmp_path: Path) -> None:
    commands = _commands(_action_project(watching.template, "Build", "Synth"))
    assert commands[0] == "make synth-setup", commands

    # What that target would run on a fresh checkout (make -n: print the recipes, run nothing).
    files = "Makefile requirements.txt requirements-dev.txt pyproject.toml setup.py package.json package-lock.json"
    for name in files.split():
        shutil.copy2(ROOT / name, tmp_path)
    planned = subprocess.run(
        ["make", "-n", "synth-setup"], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout
    assert "-r requirements.txt" in planned and "npm ci --omit=dev" in planned, planned
    test_only = ("requirements-dev.txt", "ministack", "runtime-py313", "boto3-newest", "wheelhouse", "npm ci --no")
    assert [word for word in test_only if word in planned] == [], planned
    # npm's dev dependencies are the test tools: the CDK CLI and Node.js are what synth runs.
    package = json.loads((ROOT / "package.json").read_text())
    assert set(package["dependencies"]) == {"aws-cdk", "node"}
