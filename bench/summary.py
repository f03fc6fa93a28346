"""The committed summary of a run (bench/summary.json): medians, worst cases, the target rows, the models' constants,
the versions and the machine. RESULTS.md is rendered from it alone; the raw runs, seed by seed, are not kept in git.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

WIDTH = 120  # a value whose JSON fits in a line of this width is written on one line
TABLES = ("synth", "gate", "start")  # kept as columns: one line per measure, holding its value for every row


def summarize(raw: dict[str, Any]) -> dict[str, Any]:
    """What RESULTS.md shows and the targets need, from the raw results of ``bench.run``."""
    synth = [_synth(row) for row in raw["synth"]]
    largest = raw["synth"][-1]
    asset = raw["asset"]
    cold = raw["cold_start"]
    models = {k: v for k, v in raw["gate_models"].items() if not isinstance(v, str)}  # the prose is the report's
    summary: dict[str, Any] = _significant(
        {
            "meta": raw["meta"],
            "models": {**models, "prices": raw["price_values"], "price_notes": raw["prices"]},
            "synth": synth,
            "synth_resource_types": {
                "n": largest["n"],
                "ours": largest["ours_resource_types"],
                "awscr": largest["awscr_resource_types"],
            },
            "asset": {
                **{k: v for k, v in asset.items() if not k.endswith("_assets")},
                "ours_files": sum(a["files"] for a in asset["ours_assets"]),
                "awscr_files": sum(a["files"] for a in asset["awscr_assets"]),
            },
            "cold_start": {
                **{k: v for k, v in cold.items() if not k.endswith(("_runs_ms", "_file")) and k != "boto3"},
                "ours_ms_worst": max(cold["ours_runs_ms"]),
                "bare_boto3_ms_worst": max(cold["bare_runs_ms"]),
            },
            "gate": [gate_row(row) for row in raw["gate"]],
            "start": [{k: v for k, v in row.items() if k != "runs"} for row in raw["start"]],
        }
    )
    return summary


def _significant(value: Any) -> Any:
    """Floats to six significant digits: more than any figure here carries, and no float noise in the diff."""
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, dict):
        return {k: _significant(v) for k, v in value.items()}
    return [_significant(v) for v in value] if isinstance(value, list) else value


def _synth(row: dict[str, Any]) -> dict[str, Any]:
    kept = {k: v for k, v in row.items() if not k.endswith(("_runs_s", "_runs_cpu_s", "_resource_types"))}
    for impl in ("ours", "awscr"):
        kept[f"{impl}_s_range"] = [min(row[f"{impl}_runs_s"]), max(row[f"{impl}_runs_s"])]
    return kept


def gate_row(row: dict[str, Any]) -> dict[str, Any]:
    """A figure-4 row without its runs, plus the one run the invocation target is decided by: the seed with the
    least headroom under its allowance."""
    tightest = max(row["runs"], key=lambda r: r["ours_invocations"] - r["ours_invocations_allowed"])
    kept = {k: v for k, v in row.items() if k not in ("runs", "ours_billed_s_worst")}
    kept["ours_tightest"] = {
        "finish_at_s": tightest["finish_at_s"],
        "invocations": tightest["ours_invocations"],
        "allowed": tightest["ours_invocations_allowed"],
    }
    return kept


def dumps(value: Any, indent: int = 0, prefix: int = 0) -> str:
    """JSON that reads like a table: a value that fits in WIDTH on one line, a list of records (the target rows) one
    record per line, anything else one member per line."""
    flat = json.dumps(value)
    if not isinstance(value, dict | list) or not value or indent + prefix + len(flat) <= WIDTH:
        return flat
    pad = " " * (indent + 2)
    if isinstance(value, dict):
        members = [f"{pad}{json.dumps(k)}: {dumps(v, indent + 2, len(json.dumps(k)) + 2)}" for k, v in value.items()]
        return "{\n" + ",\n".join(members) + "\n" + " " * indent + "}"
    records = all(isinstance(v, dict) for v in value)
    members = [pad + (json.dumps(v) if records else dumps(v, indent + 2)) for v in value]
    return "[\n" + ",\n".join(members) + "\n" + " " * indent + "]"


def write(path: Path, summary: dict[str, Any]) -> None:
    columns = {name: {key: [row[key] for row in summary[name]] for key in summary[name][0]} for name in TABLES}
    path.write_text(dumps({**summary, **columns}) + "\n")


def load(path: Path) -> dict[str, Any]:
    """The summary as ``summarize`` made it: each table's columns back into rows."""
    stored: dict[str, Any] = json.loads(path.read_text())
    for name in TABLES:
        columns = stored[name]
        stored[name] = [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]
    return stored
