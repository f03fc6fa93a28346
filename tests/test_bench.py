"""The benchmark still imports and runs: ``python -m bench.run --quick`` on N=1 into a temporary folder.

This checks the shape and sanity of bench's results.json, never timings or targets: those are what `make bench`
measures and reports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

SYNTH_KEYS = {
    "n",
    "ours_s",
    "awscr_s",
    "ours_template_bytes",
    "awscr_template_bytes",
    "ours_resources",
    "awscr_resources",
}
GATE_KEYS = {
    "finish_after_s",
    "ours_latency_s",
    "ours_api_calls",
    "ours_invocations",
    "ours_gb_s",
    "crhelper_latency_s",
    "crhelper_invocations",
    "provider_latency_s",
    "provider_invocations",
    "provider_state_transitions",
    "ours_cost_usd",
    "crhelper_cost_usd",
    "provider_cost_usd",
}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--out", str(out)],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = json.loads((out / "results.json").read_text())
    return results, (out / "RESULTS.md").read_text()


@pytest.mark.slow
def test_quick_run_writes_every_figure(quick_run: tuple[dict[str, Any], str]) -> None:
    results, _ = quick_run
    assert {"synth", "asset", "cold_start", "gate", "prices", "targets", "meta"} <= set(results)
    assert results["meta"]["quick"] is True

    [row] = results["synth"]
    assert SYNTH_KEYS <= set(row)
    assert row["n"] == 1
    for impl in ("ours", "awscr"):
        assert row[f"{impl}_s"] > 0
        assert row[f"{impl}_template_bytes"] > 1000
        assert row[f"{impl}_resources"] >= 2

    asset = results["asset"]
    assert 0 < asset["ours_zip_bytes"] < asset["ours_unzipped_bytes"]
    assert 0 < asset["awscr_zip_bytes"] < asset["awscr_unzipped_bytes"]

    cold = results["cold_start"]
    assert cold["ours_ms_median"] > 0
    assert cold["bare_boto3_ms_median"] > 0


@pytest.mark.slow
def test_quick_run_gate_rows_are_sane(quick_run: tuple[dict[str, Any], str]) -> None:
    results, _ = quick_run
    rows = results["gate"]
    assert [r["finish_after_s"] for r in rows] == [0, 30, 300, 1200, 3000]
    for row in rows:
        assert GATE_KEYS <= set(row), GATE_KEYS - set(row)
        assert row["ours_latency_s"] >= 0
        assert row["ours_api_calls"] >= 1
        assert row["ours_invocations"] >= 1
        assert row["ours_gb_s"] > 0
        assert row["crhelper_invocations"] >= 2  # the first request plus at least one poll
        assert row["provider_invocations"] >= 4  # onEvent pair plus at least one isComplete pair
        assert row["provider_state_transitions"] >= 1
        for key in ("ours_cost_usd", "crhelper_cost_usd", "provider_cost_usd"):
            assert 0 < row[key] < 1
    # Longer waits cost more polls on every side.
    assert rows[-1]["ours_api_calls"] > rows[1]["ours_api_calls"]
    assert rows[-1]["provider_state_transitions"] > rows[1]["provider_state_transitions"]
    assert "lambda_arm64" in results["prices"]


@pytest.mark.slow
def test_quick_run_results_md_marks_every_target(quick_run: tuple[dict[str, Any], str]) -> None:
    results, markdown = quick_run
    assert results["targets"]
    for target in results["targets"]:
        assert isinstance(target["met"], bool)
        assert target["met"] or target["why"], target
    for heading in ("Synth scaling", "Asset size", "Cold start", "Gate latency and cost", "Prices"):
        assert heading in markdown
    assert markdown.count("| met |") + markdown.count("| **missed** |") == len(results["targets"])
