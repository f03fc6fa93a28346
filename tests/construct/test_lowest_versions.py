"""The package at the lowest versions of the dependencies it declares.

requirements-lowest.txt pins each dependency of pyproject.toml at its lower bound, and the first test (part of every
run) checks that the two agree. `make test-lowest` installs those pins and the package's wheel into a venv of their
own and runs this module there with LOWEST_VERSIONS=1, beside the construct's own tests (so every option of the
library is synthesized and asserted there) and tests/construct/test_readme.py (every README block): the venv holds
exactly the pins, the example apps synthesize, and the CLI, which needs boto3 1.28's service-specific endpoint
variable, describes a job. Anywhere else the tests of this module that need that venv are skipped.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import runpy
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from support import ROOT, FakeLookoutVision, description, ok

LOWEST = ROOT / "requirements-lowest.txt"
AT_LOWEST = os.environ.get("LOWEST_VERSIONS") == "1"
at_lowest = pytest.mark.skipif(not AT_LOWEST, reason="runs in make test-lowest's venv (LOWEST_VERSIONS=1)")


def declared_lower_bounds() -> dict[str, str]:
    """Each dependency of pyproject.toml's [project] and its lower bound (every one must have one)."""
    bounds = {}
    for requirement in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        found = re.fullmatch(r"([A-Za-z0-9._-]+)\s*>=\s*([0-9][^,\s]*)(,.*)?", requirement.strip())
        assert found, f"{requirement!r} declares no lower bound (name>=version)"
        bounds[found[1].lower()] = found[2]
    return bounds


def pins() -> dict[str, str]:
    pinned = {}
    for line in LOWEST.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"requirements-lowest.txt: {line!r} is not pinned with =="
            pinned[name.strip().lower()] = version.strip()
    return pinned


def test_requirements_lowest_pins_each_declared_dependency_at_its_lower_bound() -> None:
    bounds = declared_lower_bounds()
    assert {name: pins().get(name) for name in bounds} == bounds


@at_lowest
def test_the_venv_holds_exactly_the_pinned_versions_and_the_package_s_wheel() -> None:
    installed = {name: importlib.metadata.version(name) for name in pins()}
    assert installed == pins()
    # A pin beyond the declared dependencies is the lowest release that its dependant accepts.
    for extra in set(pins()) - set(declared_lower_bounds()):
        dependants = [
            requirement
            for name in declared_lower_bounds()
            for requirement in importlib.metadata.requires(name) or []
            if re.match(rf"{re.escape(extra)}\b", requirement, re.I)
        ]
        assert any(f">={pins()[extra]}" in r.replace(" ", "") for r in dependants), (extra, dependants)
    import cdk_lookoutvision_packaging
    import cdk_lookoutvision_packaging_handler

    site = Path(sysconfig.get_paths()["purelib"])
    for package in (cdk_lookoutvision_packaging, cdk_lookoutvision_packaging_handler):
        assert Path(str(package.__file__)).is_relative_to(site), package.__file__


def synth(script: str, outdir: Path, monkeypatch: pytest.MonkeyPatch, **context: str) -> dict[str, dict[str, Any]]:
    """Run ``script`` in this process, which starts jsii once for all of them, with what `cdk synth` gives an app
    (cdk.json's context and ``context``, an output folder); return the templates by stack name."""
    settings = {**json.loads((ROOT / "cdk.json").read_text())["context"], **context}

    class SynthApp(cdk.App):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["context"] = {**settings, **(kwargs.get("context") or {})}
            kwargs.setdefault("outdir", str(outdir))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(cdk, "App", SynthApp)
    monkeypatch.chdir(ROOT)
    runpy.run_path(str(ROOT / script), run_name="__main__")
    return {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in outdir.rglob("*.template.json")
    }


@at_lowest
def test_the_example_apps_synthesize_watching_and_starting_a_job_and_in_a_pipeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    watching = synth("app.py", tmp_path / "watch", monkeypatch)
    assert {"LookoutVisionModelGate", "LookoutVisionEdgeDeployment"} <= set(watching)
    starting = synth(
        "app.py", tmp_path / "start", monkeypatch, startJob="true", parameterPrefix="/lookoutvision/pcb/lowest"
    )
    gate = json.dumps(starting["LookoutVisionModelGate"])
    assert '"Packaging"' in gate and "lookoutvision:StartModelPackagingJob" in gate
    assert len(starting) == 3
    assert len(synth("examples/pipeline_app.py", tmp_path / "pipeline", monkeypatch)) == 3


@at_lowest
def test_the_cli_describes_a_job_through_the_service_specific_endpoint() -> None:
    args = ("--project-name", "pcb", "--job-name", "pcb-v3-x86", "--output", "json")
    with FakeLookoutVision() as fake:
        fake.script("pcb", "pcb-v3-x86", [ok(description("SUCCEEDED"))])
        run = subprocess.run(
            [sys.executable, "-m", "cdk_lookoutvision_packaging", "describe", *args],
            env={**os.environ, "AWS_ENDPOINT_URL_LOOKOUTVISION": fake.url},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["Status"] == "SUCCEEDED"
        assert fake.calls("pcb", "pcb-v3-x86") == 1
