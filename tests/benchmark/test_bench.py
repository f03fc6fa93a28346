"""The benchmark measures what it reports: one finish moment per seed for all three gate models, latency as the
median and the worst, every target row kept with a reason; RESULTS.md is rebuilt from the committed summary alone;
and ``python -m bench.run --quick`` still runs. Bench's bookkeeping, never its timings: `make bench` measures those.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import gate, report, summary

ROOT = Path(__file__).resolve().parents[2]

FUNCTION = {"timeout_s": 900, "memory_mb": 128, "architectures": ["arm64"], "runtime": "python3.14"}
PUBLISHED = ROOT / "bench" / "summary.json"
COMMITTED_DATA_LINES = 600  # the summary is what is committed, not the runs it summarizes


class Recorder:
    """Stands in for the three gate systems and notes the finish moment each was given, per seed."""

    def __init__(self) -> None:
        self.seen: dict[str, list[float]] = {system: [] for system in gate.SYSTEMS}

    def ours(self, finish_at_s: float, seed: int, function: dict[str, Any], assumptions: gate.Assumptions) -> Any:
        self.seen["ours"].append(finish_at_s)
        # A latency that differs per seed, so the median and the worst can be told apart.
        return gate.OursRun(latency_s=float(seed), api_calls=1, invocations=1, billed_s=[0.1], gb_s=0.0125)

    def crhelper(self, finish_at_s: float, interval_s: float, assumptions: gate.Assumptions) -> dict[str, Any]:
        self.seen["crhelper"].append(finish_at_s)
        return gate.crhelper_model(finish_at_s, interval_s, assumptions)

    def provider(self, finish_at_s: float, assumptions: gate.Assumptions) -> dict[str, Any]:
        self.seen["provider"].append(finish_at_s)
        return gate.provider_model(finish_at_s, assumptions)

    def measure(self, seeds: int, finish_after: tuple[int, ...]) -> list[dict[str, Any]]:
        return gate.measure(
            FUNCTION, seeds, finish_after, ours=self.ours, crhelper=self.crhelper, provider=self.provider
        )


def test_the_three_systems_are_fed_the_same_random_finish_moments() -> None:
    recorder = Recorder()
    rows = recorder.measure(seeds=7, finish_after=(0, 1200))

    assert recorder.seen["ours"] == recorder.seen["crhelper"] == recorder.seen["provider"]
    zero, later = rows
    assert [r["finish_at_s"] for r in zero["runs"]] == [0.0] * 7  # already SUCCEEDED: no phase
    moments = [r["finish_at_s"] for r in later["runs"]]
    assert recorder.seen["ours"] == [0.0] * 7 + moments
    window = later["phase_window_s"]
    assert window == gate.crhelper_polling_interval_s()  # a whole period of the slowest poller
    assert all(1200 <= m < 1200 + window for m in moments)
    assert len(set(moments)) == len(moments)  # a phase per seed, not one shared offset
    assert Recorder().measure(seeds=7, finish_after=(0, 1200))[1]["runs"] == later["runs"]  # seeded: repeatable


def test_latency_is_reported_as_median_and_worst_for_each_system() -> None:
    [row] = Recorder().measure(seeds=5, finish_after=(300,))

    assert (row["ours_latency_s_median"], row["ours_latency_s_worst"]) == (2.0, 4.0)  # seeds 0..4
    for system in gate.SYSTEMS:
        latencies = sorted(r[f"{system}_latency_s"] for r in row["runs"])
        assert row[f"{system}_latency_s_median"] == latencies[2]
        assert row[f"{system}_latency_s_worst"] == latencies[-1]
    markdown = report.render({**_published(), "gate": [summary.gate_row(row)]})
    assert "| ours latency s (median / worst) | crhelper latency s (median / worst) |" in markdown
    assert " | 2.00 / 4.00 | " in markdown


def _published() -> dict[str, Any]:
    return summary.load(PUBLISHED)


def _target_rows(markdown: str) -> list[str]:
    section = markdown.split("## Targets", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.endswith(" |") and ("| met |" in line or "missed" in line)]


def test_every_target_row_is_kept_with_a_reason_met_or_missed() -> None:
    results = _published()
    results["asset"] = {**results["asset"], "ours_zip_bytes": report.ASSET_LIMIT_BYTES + 1}  # force one miss
    targets = report.evaluate(results)
    markdown = report.render({**results, "targets": targets})

    rows = _target_rows(markdown)
    assert len(rows) == len(targets)
    assert {t["met"] for t in targets} == {True, False}
    for target, line in zip(targets, rows, strict=True):
        assert target["reason"].strip() and "\n" not in target["reason"], target
        assert not any("|" in target[key] for key in ("row", "target", "reason")), target  # one cell each
        assert line.endswith(f"| {target['reason']} |")
        assert ("| met |" in line) is target["met"]


def python_m(*args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]


def test_python_m_bench_report_rebuilds_results_md_from_the_committed_summary_alone(tmp_path: Path) -> None:
    assert _published()["targets"] == report.evaluate(_published())
    (tmp_path / "summary.json").write_text(PUBLISHED.read_text())
    python_m("bench.report", str(tmp_path / "summary.json"))
    assert (tmp_path / "RESULTS.md").read_text() == (ROOT / "bench" / "RESULTS.md").read_text()


def test_the_committed_bench_data_is_a_summary_not_the_runs() -> None:
    data = sorted((ROOT / "bench").glob("*.json"))
    assert data == [PUBLISHED], data  # the raw runs go to build/, which git ignores
    assert sum(len(path.read_text().splitlines()) for path in data) <= COMMITTED_DATA_LINES
    text = PUBLISHED.read_text()
    assert '"seed":' not in text and '_runs_s"' not in text and '_runs_ms"' not in text  # no run by run figures


def test_bench_and_harness_import_nothing_from_tests() -> None:
    """What the benchmark shares with the tests lives in harness/, which both import; tests/ is the tests' own."""
    test_modules = {path.stem for path in (ROOT / "tests").rglob("*.py")} | {"tests"}
    for path in sorted([*(ROOT / "bench").glob("*.py"), *(ROOT / "harness").glob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                found = {name.split(".")[0] for name in names} & test_modules
                assert not found, f"{path.relative_to(ROOT)} imports {sorted(found)} from tests/"


QuickRun = tuple[dict[str, Any], dict[str, Any], str]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> QuickRun:
    """The raw runs (bench-raw.json), the summary and RESULTS.md of one ``--quick`` run."""
    out = tmp_path_factory.mktemp("bench")
    python_m("bench.run", "--quick", "--out", str(out))
    raw = json.loads((out / "bench-raw.json").read_text())
    return raw, summary.load(out / "summary.json"), (out / "RESULTS.md").read_text()


@pytest.mark.slow
def test_quick_run_writes_every_figure_and_rebuilds_results_md_from_its_summary(quick_run: QuickRun) -> None:
    # The figures' names are checked by summarizing and rendering them: a missing one fails there.
    results, summarized, markdown = quick_run
    assert {"synth", "asset", "cold_start", "gate", "start", "prices", "meta"} <= set(results)
    assert results["meta"]["quick"] is summarized["meta"]["quick"] is True
    assert markdown == report.render(summarized)
    assert summarized["targets"] == report.evaluate(summarized)
    [row] = results["synth"]
    assert row["n"] == 1
    for impl in ("ours", "awscr"):
        assert row[f"{impl}_s"] > 0 and row[f"{impl}_template_bytes"] > 1000 and row[f"{impl}_resources"] >= 2
        assert 0 < results["asset"][f"{impl}_zip_bytes"] < results["asset"][f"{impl}_unzipped_bytes"]
    assert results["cold_start"]["ours_ms_median"] > 0 and results["cold_start"]["bare_boto3_ms_median"] > 0


@pytest.mark.slow
def test_quick_run_models_the_other_gates_at_every_finish_moment(quick_run: QuickRun) -> None:
    results = quick_run[0]
    rows = results["gate"]
    assert [r["finish_after_s"] for r in rows] == list(gate.FINISH_AFTER_S)
    for row in rows:
        assert len(row["runs"]) == row["seeds"] == results["meta"]["gate_seeds"]
        assert row["crhelper_invocations_worst"] >= 2  # the first request plus at least one poll
        assert row["provider_invocations_worst"] >= 4  # onEvent pair plus at least one isComplete pair
        assert row["provider_state_transitions_worst"] >= 1
        assert all(0 < row[f"{system}_cost_usd_median"] < 1 for system in gate.SYSTEMS)
    # A longer wait costs the provider framework more state transitions.
    assert rows[-1]["provider_state_transitions_worst"] > rows[1]["provider_state_transitions_worst"]
