"""A pytest plugin that counts what the reliability suites did and prints the figures at the end of the run.

The fault-matrix, fuzz and load tests call ``record_*``; the totals (scenarios run, events fuzzed, answers sent,
hangs) are printed in the terminal summary and written to build/reliability.json, so no figure in
docs/RELIABILITY.md has to be typed by hand.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

REPORT_PATH = Path(__file__).resolve().parents[1] / "build" / "reliability.json"

_scenarios: list[dict[str, Any]] = []
_counts = {"events_fuzzed": 0, "fuzz_answers": 0, "fuzz_hangs": 0, "log_lines_checked": 0}
_load: dict[str, Any] = {}
_lock = threading.Lock()


def record_scenario(
    name: str, *, suite: str, expected: str, outcome: str, answers: int, hang: bool = False, detail: str = ""
) -> None:
    """One scenario of a fault matrix: what was expected, what came back, how many answers, whether it hung."""
    scenario = {"name": name, "suite": suite, "expected": expected, "outcome": outcome, "answers": answers}
    with _lock:
        _scenarios.append({**scenario, "hang": hang, "detail": detail})


def record_fuzz(events: int, answers: int, hangs: int = 0) -> None:
    with _lock:
        _counts["events_fuzzed"] += events
        _counts["fuzz_answers"] += answers
        _counts["fuzz_hangs"] += hangs


def record_log_lines(count: int) -> None:
    with _lock:
        _counts["log_lines_checked"] += count


def record_load(**figures: Any) -> None:
    with _lock:
        _load.update(figures)


def summary() -> dict[str, Any]:
    with _lock:
        scenarios = [dict(s) for s in _scenarios]
        return {
            "scenarios_run": len(scenarios),
            "scenarios_as_expected": sum(1 for s in scenarios if s["outcome"] == s["expected"]),
            "answers_sent": sum(s["answers"] for s in scenarios) + _counts["fuzz_answers"],
            "hangs": sum(1 for s in scenarios if s["hang"]) + _counts["fuzz_hangs"],
            "events_fuzzed": _counts["events_fuzzed"],
            "log_lines_checked": _counts["log_lines_checked"],
            "load": dict(_load),
            "scenarios": scenarios,
        }


def pytest_terminal_summary(terminalreporter: Any) -> None:
    figures = summary()
    if not figures["scenarios_run"] and not figures["events_fuzzed"] and not figures["load"]:
        return
    REPORT_PATH.parent.mkdir(parents=True, exist_ok=True)
    REPORT_PATH.write_text(json.dumps(figures, indent=2) + "\n")
    write = terminalreporter.write_line
    terminalreporter.section("reliability figures")
    write(
        f"scenarios run: {figures['scenarios_run']} ({figures['scenarios_as_expected']} as expected), "
        f"events fuzzed: {figures['events_fuzzed']}, answers sent: {figures['answers_sent']}, "
        f"hangs: {figures['hangs']}, log lines checked: {figures['log_lines_checked']}"
    )
    if figures["load"]:
        write("load: " + ", ".join(f"{k}={v}" for k, v in figures["load"].items()))
    for s in figures["scenarios"]:
        mark = "ok " if s["outcome"] == s["expected"] and not s["hang"] else "BAD"
        hang = ", HANG" if s["hang"] else ""
        write(f"  {mark} [{s['suite']}] {s['name']}: {s['outcome']} (answers {s['answers']}{hang})")
    write(f"written to {REPORT_PATH}")
