"""The wheel: build it, check what it carries, install it into a fresh venv and synthesize an app outside the repo."""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import FakeGreengrass, FakeLookoutVision, description, offline_env, ok

from cdk_lookoutvision_packaging import _vendor

ROOT = Path(__file__).resolve().parents[2]
WHEELHOUSE = ROOT / ".deps" / "wheelhouse"
NEWEST_BOTO3 = ROOT / ".deps" / "boto3-newest"  # no lookoutvision model
NODE_BIN = ROOT / "node_modules" / ".bin"
PKG = "cdk_lookoutvision_packaging"

pytestmark = pytest.mark.slow


def run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    kwargs.setdefault("timeout", 600)
    result = subprocess.run(args, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{args}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def pinned_version(distribution: str) -> str:
    wheels = list(WHEELHOUSE.glob(f"{distribution}-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0].name.split("-")[1]


def other_crhelper_wheel() -> Path:
    """The crhelper release in the wheelhouse that the package does not bundle (the Makefile's OTHER_CRHELPER)."""
    others = [w for w in WHEELHOUSE.glob("crhelper-*.whl") if w.name.split("-")[1] != _vendor.CRHELPER_VERSION]
    assert len(others) == 1, f"{others}: make setup downloads one other crhelper release into {WHEELHOUSE}"
    return others[0]


def source_copy(folder: Path) -> Path:
    """A copy of the working tree's source files (tracked and not ignored): nothing stale in build/ or *.egg-info
    can leak into a wheel built from it, and the build leaves no output in the repo."""
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT).stdout.split("\0")
    for rel in filter(None, listed):
        source = ROOT / rel
        if source.is_file():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, folder / rel)
    return folder


def only_wheel(outdir: Path) -> Path:
    wheels = list(outdir.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def offline_pip(python: Path, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """pip of ``python`` with the offline wheelhouse as its only source, compiling nothing (PIP_COMPILE=0 reaches the
    isolated build environments too): compiling all of aws-cdk-lib costs about 40 s of CPU per venv, and the few
    modules a child imports are compiled then (fresh_env lets it write them)."""
    options = ["--quiet", "--disable-pip-version-check", "--no-index", "--find-links", str(WHEELHOUSE)]
    kwargs.setdefault("env", {**os.environ, "PIP_COMPILE": "0"})
    return run([str(python), "-m", "pip", *args, *options], **kwargs)


def new_venv(folder: Path) -> Path:
    run([sys.executable, "-m", "venv", str(folder)])
    return folder / "bin" / "python"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the wheel the way `pip install .` would, with the dev venv's botocore 1.40.60 and crhelper 2.0.12
    supplying the model and crhelper."""
    src = source_copy(tmp_path_factory.mktemp("src"))
    outdir = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(outdir)], cwd=src)
    return only_wheel(outdir)


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed from the offline wheelhouse only, and no crhelper."""
    folder = tmp_path_factory.mktemp("fresh") / "venv"
    offline_pip(new_venv(folder), "install", str(wheel))
    return folder


@pytest.fixture(scope="module")
def other_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second consumer: a venv with another crhelper release installed that builds its own wheel from the same
    commit, in an isolated build (pip installs [build-system] requires from the wheelhouse), and installs it."""
    folder = tmp_path_factory.mktemp("other") / "venv"
    python = new_venv(folder)
    offline_pip(python, "install", str(other_crhelper_wheel()))
    src = source_copy(tmp_path_factory.mktemp("other-src"))
    outdir = tmp_path_factory.mktemp("other-dist")
    offline_pip(python, "wheel", "--no-deps", "--wheel-dir", str(outdir), str(src), cwd=src)
    offline_pip(python, "install", str(only_wheel(outdir)))
    return folder


def fresh_env(venv: Path, **extra: str) -> dict[str, str]:
    """The offline environment with ``venv`` and the pinned Node.js (for jsii) on PATH, and nothing of the repo's."""
    dropped = ("PYTHONPATH", "VIRTUAL_ENV", "CDK_OUTDIR", "PYTHONHOME", "PYTHONDONTWRITEBYTECODE")
    env = offline_env({k: v for k, v in os.environ.items() if k not in dropped}, **extra)
    system_path = [p for p in env.get("PATH", "").split(os.pathsep) if p and not p.startswith(str(ROOT))]
    env["PATH"] = os.pathsep.join([str(NODE_BIN), str(venv / "bin"), *system_path])
    return env


def test_wheel_holds_the_two_packages_typed_and_its_console_script_s_module_without_tests_or_caches(
    wheel: Path,
) -> None:
    # What they carry into the asset: test_installed_construct_bundles_the_same_asset_as_the_repo.
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        parser = configparser.ConfigParser()
        parser.read_string(archive.read(entry_points).decode())
    assert f"{PKG}/py.typed" in names
    assert not [n for n in names if "/tests/" in n or "__pycache__" in n or n.endswith(".pyc")], sorted(names)
    top_level = {n.split("/")[0] for n in names}
    assert top_level == {PKG, "cdk_lookoutvision_packaging_handler", f"{PKG}-0.1.0.dist-info"}, top_level
    for script, target in parser.items("console_scripts"):
        path = target.split(":")[0].strip().replace(".", "/")
        assert f"{path}.py" in names or f"{path}/__init__.py" in names, f"{script} = {target}: no such module"


def test_wheel_carries_crhelper_s_license_and_notice_beside_its_modules(wheel: Path) -> None:
    # The modules are the asset's, which tests/unit/test_crhelper_adapter.py pins byte for byte; crhelper is no
    # dependency: test_fresh_venv_has_the_pinned_botocore_and_the_packaged_model finds none installed.
    import importlib.metadata

    prefix = f"{PKG}/_vendor/crhelper/"
    with zipfile.ZipFile(wheel) as archive:
        carried = {n.removeprefix(prefix): archive.read(n) for n in archive.namelist() if n.startswith(prefix)}
    assert {name for name in carried if not name.endswith(".py")} == {"LICENSE", "NOTICE"}
    for name in ("LICENSE", "NOTICE"):
        assert carried[name].decode() == importlib.metadata.distribution("crhelper").read_text(name), name


PROBE = """
import importlib.metadata as m, importlib.util, json, botocore, cdk_lookoutvision_packaging as pkg
from cdk_lookoutvision_packaging import _model, _vendor
print(json.dumps({"botocore": botocore.__version__, "package": pkg.__file__, "model_dir": str(_model.model_dir()),
                  "crhelper": importlib.util.find_spec("crhelper") and m.version("crhelper"),
                  "crhelper_dir": str(_vendor.crhelper_dir())}))
"""


def probe(venv: Path, tmp_path: Path) -> dict[str, str]:
    result = run([str(venv / "bin" / "python"), "-c", PROBE], cwd=tmp_path, env=fresh_env(venv))
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_fresh_venv_has_the_pinned_botocore_and_the_packaged_model(venv: Path, tmp_path: Path) -> None:
    info = probe(venv, tmp_path)
    assert info["botocore"] == pinned_version("botocore")
    site_packages = Path(info["package"]).resolve().parent.parent
    assert site_packages.name == "site-packages"
    assert site_packages.is_relative_to(venv.resolve())
    model_dir = Path(info["model_dir"]).resolve()
    assert model_dir == site_packages / PKG / "_model" / "lookoutvision" / "2020-11-20"
    # crhelper is no dependency: the venv has none, and the asset's comes from the package.
    assert info["crhelper"] is None
    assert Path(info["crhelper_dir"]).resolve() == site_packages / PKG / "_vendor" / "crhelper"


def test_the_wheel_s_cli_runs_beside_the_newest_botocore_and_without_a_model_exits_3_until_aws_data_path_gives_one(
    wheel: Path, tmp_path: Path
) -> None:
    """On a path of only the unpacked wheel (with or without the model it carries) and the newest botocore, and no
    site-packages (-S): neither the venv's botocore 1.40.60 nor aws_cdk can be imported."""
    site, bare = tmp_path / "site", tmp_path / "bare"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    shutil.copytree(site, bare, ignore=shutil.ignore_patterns("_model"))
    job = ["--project-name", "pcb", "--job-name", "pcb-v3-x86", "--interval", "0.2s"]
    wait = [sys.executable, "-S", "-m", PKG, "wait", *job]
    with FakeLookoutVision() as fake, FakeGreengrass(default="DEPLOYABLE") as greengrass:
        fake.script("pcb", "pcb-v3-x86", [ok(description("RUNNING")), ok(description())])
        urls = {"AWS_ENDPOINT_URL_LOOKOUTVISION": fake.url, "AWS_ENDPOINT_URL_GREENGRASSV2": greengrass.url}
        env = {**os.environ, **urls, "PYTHONPATH": f"{site}{os.pathsep}{NEWEST_BOTO3}"}
        assert json.loads(run(wait, env=env, timeout=60).stdout)["Status"] == "SUCCEEDED"
        calls = fake.calls()
        env["PYTHONPATH"] = f"{bare}{os.pathsep}{NEWEST_BOTO3}"
        missing = subprocess.run(wait, env=env, capture_output=True, text=True, timeout=60)
        assert missing.returncode == 3 and "No Lookout for Vision service model found" in missing.stderr, missing.stderr
        assert "Traceback" not in missing.stderr and fake.calls() == calls
        given = run(wait, env={**env, "AWS_DATA_PATH": str(site / PKG / "_model")}, timeout=60)
        assert json.loads(given.stdout)["Status"] == "SUCCEEDED"


APP = """
import aws_cdk as cdk
from cdk_lookoutvision_packaging import ModelPackagingJob

app = cdk.App()
stack = cdk.Stack(app, "ConsumerStack")
job = ModelPackagingJob(stack, "Job", project_name="pcb", job_name="pcb-v3-x86")
cdk.CfnOutput(stack, "Arn", value=job.component_version_arn)
app.synth()
"""


@dataclass
class Consumer:
    key: str
    asset: Path


def synthesize(venv: Path, work: Path) -> Consumer:
    """The one-construct app, in a folder outside the repo, synthesized by ``venv``'s python."""
    app_dir = work / "app"
    app_dir.mkdir()
    assert not app_dir.resolve().is_relative_to(ROOT)
    (app_dir / "app.py").write_text(APP)
    out = work / "out"
    run([str(venv / "bin" / "python"), "app.py"], cwd=app_dir, env=fresh_env(venv, CDK_OUTDIR=str(out)), timeout=300)
    template = json.loads((out / "ConsumerStack.template.json").read_text())
    [function] = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    key = function["Properties"]["Code"]["S3Key"]
    manifest = json.loads((out / "ConsumerStack.assets.json").read_text())
    source = manifest["files"][key.removesuffix(".zip")]["source"]
    assert source["packaging"] == "zip"
    return Consumer(key, out / source["path"])


@pytest.fixture(scope="module")
def consumer(venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Consumer:
    return synthesize(venv, tmp_path_factory.mktemp("consumer"))


@pytest.fixture(scope="module")
def other_consumer(other_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Consumer:
    return synthesize(other_venv, tmp_path_factory.mktemp("other-consumer"))


def test_installed_construct_bundles_the_same_asset_as_the_repo(consumer: Consumer, tmp_path: Path) -> None:
    # Same handler sources, same crhelper, same service model: the same asset, so the same S3 key, whether the
    # construct runs from this repo or from the wheel (whose handler folder holds pip's __pycache__).
    import aws_cdk as cdk

    from cdk_lookoutvision_packaging import ModelPackagingJob

    cdk.AssetStaging.clear_asset_hash_cache()
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "ConsumerStack")
    ModelPackagingJob(stack, "Job", project_name="pcb", job_name="pcb-v3-x86")
    template = app.synth().get_stack_artifact(stack.artifact_id).template
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    repo_key = functions[0]["Properties"]["Code"]["S3Key"]
    repo_asset = tmp_path / f"asset.{repo_key.removesuffix('.zip')}"

    assert tree(consumer.asset) == tree(repo_asset)
    assert consumer.key == repo_key


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_two_wheels_of_one_commit_in_different_environments_synthesize_one_asset(
    other_venv: Path, consumer: Consumer, other_consumer: Consumer, tmp_path: Path
) -> None:
    # One wheel built --no-isolation with the dev venv's crhelper 2.0.12 and installed where no crhelper is
    # (test_fresh_venv_...); the other built in pip's isolated build env and installed next to another crhelper.
    assert probe(other_venv, tmp_path)["crhelper"] == other_crhelper_wheel().name.split("-")[1]
    assert other_consumer.key == consumer.key
    assert tree(other_consumer.asset) == tree(consumer.asset)


def test_a_build_with_another_crhelper_fails_naming_the_pin(other_venv: Path, tmp_path: Path) -> None:
    # pip's isolated build (other_venv's) installs [build-system] requires' crhelper, which must be the pin. Without
    # build isolation the build environment's crhelper would be copied, so setup.py refuses any other.
    build_requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    assert f"crhelper=={_vendor.CRHELPER_VERSION}" in build_requires
    python = other_venv / "bin" / "python"
    offline_pip(python, "install", f"setuptools=={pinned_version('setuptools')}", "botocore==1.40.60")
    src = source_copy(tmp_path / "src")
    pip_wheel = [str(python), "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
    build = [*pip_wheel, "--wheel-dir", str(tmp_path / "dist"), str(src)]
    result = subprocess.run(build, cwd=src, env=fresh_env(other_venv), capture_output=True, text=True, timeout=600)
    assert result.returncode != 0
    assert f"build with crhelper=={_vendor.CRHELPER_VERSION}" in result.stdout + result.stderr
    assert not list(tmp_path.glob("dist/*.whl"))
