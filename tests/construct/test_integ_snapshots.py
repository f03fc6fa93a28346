"""Snapshot tests of the tests/integ_*.py apps, the way integ-runner's snapshot mode does them.

Each app is synthesized as integ-runner runs it (``python <file>`` with CDK_OUTDIR and the recommended feature flags
in CDK_CONTEXT_JSON), and every ``*.template.json`` and ``integ.json`` must equal the committed snapshot in
``<file>.snapshot/`` (integ-runner's layout), asset hashes left out of the comparison as integ-runner leaves them
out. After an intended change, `make integ-update` rewrites the snapshots, and the diff is reviewed like code.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = sorted((ROOT / "tests").glob("integ_*.py"))
UPDATE = os.environ.get("INTEG_UPDATE") == "1"
ASSET_HASH = re.compile(r"[0-9a-f]{64}")

pytestmark = pytest.mark.slow


def _synth(app: Path, outdir: Path) -> Path:
    # The recommended flags cdk.json sets (integ-runner passes its own recommended set the same way).
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDK_") and k != "PYTHONPATH"}
    env.update(
        {
            "CDK_OUTDIR": str(outdir),
            "CDK_CONTEXT_JSON": json.dumps({k: v for k, v in context.items() if ":" in k}),
            "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
        }
    )
    result = subprocess.run(
        [sys.executable, app.name], cwd=app.parent, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return outdir


def _canonical(value: Any, hashes: dict[str, str]) -> Any:
    """``value`` with every asset hash replaced by Asset1, Asset2, ... in order of first appearance, and the
    assertion calls' ``salt`` (the synth time, which makes them run on every deploy) left out."""
    if isinstance(value, dict):
        return {_canonical(k, hashes): "<salt>" if k == "salt" else _canonical(v, hashes) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v, hashes) for v in value]
    if isinstance(value, str):
        return ASSET_HASH.sub(lambda m: hashes.setdefault(m.group(0), f"Asset{len(hashes) + 1}"), value)
    return value


def _snapshot_files(directory: Path) -> dict[str, Path]:
    # What the comparison reads: the asset folders are the handler's code, not a template.
    return {p.name: p for pattern in ("*.template.json", "integ.json") for p in sorted(directory.glob(pattern))}


@pytest.mark.parametrize("app", APPS, ids=[a.name for a in APPS])
def test_synthesized_templates_match_the_committed_snapshot(app: Path, tmp_path: Path) -> None:
    actual = _snapshot_files(_synth(app, tmp_path / "out"))
    assert any(name.endswith(".template.json") for name in actual), actual
    snapshot_dir = app.parent / f"{app.name}.snapshot"
    if UPDATE:
        shutil.rmtree(snapshot_dir, ignore_errors=True)
        snapshot_dir.mkdir()
        for name, path in actual.items():
            shutil.copyfile(path, snapshot_dir / name)
    expected = _snapshot_files(snapshot_dir)
    assert sorted(actual) == sorted(expected), f"{app.name}: run `make integ-update` and review the snapshot diff"
    for name in actual:
        got = _canonical(json.loads(actual[name].read_text()), {})
        want = _canonical(json.loads(expected[name].read_text()), {})
        assert got == want, (
            f"{app.name}: {name} differs from its snapshot; after an intended change run `make integ-update`"
        )


def test_integ_runner_cannot_read_aws_cdk_lib_2_275_assemblies_yet() -> None:
    """integ-runner is pinned in package.json, but its newest release (2.197.10) reads cloud assemblies up to schema 53
    and aws-cdk-lib 2.275.0 writes 55. When this fails, the pinned integ-runner reads them: run it in `make test`
    instead of the test above."""
    runner = ROOT / "node_modules" / ".bin" / "integ-runner"
    assert runner.exists(), f"{runner} is missing: run `make setup`"
    result = subprocess.run(
        [str(runner), "--directory", "tests", "--language", "python"],
        cwd=ROOT,
        env={**os.environ, "CDK_DISABLE_VERSION_CHECK": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Maximum schema version supported is 53.x.x, but found 55.0.0" in output, output[-3000:]
