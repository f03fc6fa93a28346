"""A pytest plugin that counts what the runtime suites did and prints the figures at the end of the run.

The fault matrix and the load test call ``record_*``; the totals (scenarios run, answers sent, hangs, log lines
checked, the load figures) are printed in the terminal summary and written to build/reliability.json, so no figure in
docs/RELIABILITY.md has to be typed by hand.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

REPORT_PATH = Path(__file__).resolve().parents[1] / "build" / "reliability.json"

_scenarios: list[dict[str, Any]] = []
_figures: dict[str, Any] = {"log_lines_checked": 0, "load": {}}
_lock = threading.Lock()


def record_scenario(name: str, *, expected: str, outcome: str, answers: int, hang: bool, detail: str = "") -> None:
    """One scenario: what was expected, what came back, how many answers, whether it hung."""
    with _lock:
        _scenarios.append(
            {"name": name, "expected": expected, "outcome": outcome, "answers": answers, "hang": hang, "detail": detail}
        )


def record_log_lines(count: int) -> None:
    with _lock:
        _figures["log_lines_checked"] += count


def record_load(**figures: Any) -> None:
    with _lock:
        _figures["load"].update(figures)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    with _lock:
        scenarios = [dict(s) for s in _scenarios]
        figures = {
            "scenarios_run": len(scenarios),
            "scenarios_as_expected": sum(1 for s in scenarios if s["outcome"] == s["expected"] and not s["hang"]),
            "answers_sent": sum(s["answers"] for s in scenarios),
            "hangs": sum(1 for s in scenarios if s["hang"]),
            **json.loads(json.dumps(_figures)),
            "scenarios": scenarios,
        }
    if not scenarios:
        return
    REPORT_PATH.parent.mkdir(parents=True, exist_ok=True)
    REPORT_PATH.write_text(json.dumps(figures, indent=2) + "\n")
    write = terminalreporter.write_line
    terminalreporter.section("reliability figures")
    write(
        f"scenarios run: {figures['scenarios_run']} ({figures['scenarios_as_expected']} as expected), "
        f"answers sent: {figures['answers_sent']}, hangs: {figures['hangs']}, "
        f"log lines checked: {figures['log_lines_checked']}"
    )
    if figures["load"]:
        write("load: " + ", ".join(f"{k}={v}" for k, v in figures["load"].items()))
    for s in scenarios:
        mark = "ok " if s["outcome"] == s["expected"] and not s["hang"] else "BAD"
        write(f"  {mark} {s['name']}: {s['outcome']} (answers {s['answers']}{', HANG' if s['hang'] else ''})")
    write(f"written to {REPORT_PATH}")
