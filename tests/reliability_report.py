"""A pytest plugin that counts what the reliability suites did and prints the figures at the end of the run.

The fault-matrix, fuzz and load tests call ``record_*``; the totals (scenarios run, events fuzzed, answers sent,
hangs) are printed by the suite itself in the terminal summary and written to build/reliability.json, so no figure
in docs/RELIABILITY.md has to be typed by hand.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPORT_PATH = Path(__file__).resolve().parents[1] / "build" / "reliability.json"


@dataclass
class Scenario:
    name: str
    suite: str
    expected: str
    outcome: str
    answers: int
    hang: bool
    detail: str = ""


@dataclass
class _Figures:
    scenarios: list[Scenario] = field(default_factory=list)
    events_fuzzed: int = 0
    fuzz_answers: int = 0
    fuzz_hangs: int = 0
    log_lines_checked: int = 0
    load: dict[str, Any] = field(default_factory=dict)


_figures = _Figures()
_lock = threading.Lock()


def record_scenario(
    name: str, *, suite: str, expected: str, outcome: str, answers: int, hang: bool = False, detail: str = ""
) -> None:
    """One scenario of a fault matrix: what was expected, what came back, how many answers, whether it hung."""
    with _lock:
        _figures.scenarios.append(Scenario(name, suite, expected, outcome, answers, hang, detail))


def record_fuzz(events: int, answers: int, hangs: int = 0) -> None:
    with _lock:
        _figures.events_fuzzed += events
        _figures.fuzz_answers += answers
        _figures.fuzz_hangs += hangs


def record_log_lines(count: int) -> None:
    with _lock:
        _figures.log_lines_checked += count


def record_load(**figures: Any) -> None:
    with _lock:
        _figures.load.update(figures)


def summary() -> dict[str, Any]:
    with _lock:
        scenarios = [asdict(s) for s in _figures.scenarios]
        return {
            "scenarios_run": len(scenarios),
            "scenarios_as_expected": sum(1 for s in scenarios if s["outcome"] == s["expected"]),
            "answers_sent": sum(s["answers"] for s in scenarios) + _figures.fuzz_answers,
            "hangs": sum(1 for s in scenarios if s["hang"]) + _figures.fuzz_hangs,
            "events_fuzzed": _figures.events_fuzzed,
            "log_lines_checked": _figures.log_lines_checked,
            "load": dict(_figures.load),
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
    for scenario in figures["scenarios"]:
        mark = "ok " if scenario["outcome"] == scenario["expected"] and not scenario["hang"] else "BAD"
        write(
            f"  {mark} [{scenario['suite']}] {scenario['name']}: {scenario['outcome']} "
            f"(answers {scenario['answers']}{', HANG' if scenario['hang'] else ''})"
        )
    write(f"written to {REPORT_PATH}")


@pytest.fixture
def reliability() -> Any:
    """The recording functions, for tests that prefer a fixture to an import."""
    import reliability_report

    return reliability_report
