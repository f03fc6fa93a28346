"""``python -m bench.run [--quick] [--out DIR]``: measure the five figures; write summary.json and RESULTS.md to DIR
(bench/ by default) and the raw runs, seed by seed, to build/bench-raw.json (DIR/bench-raw.json with --out).

Full mode (``make bench``) synthesizes N = 1, 10 and 100 jobs five times per side (at least three: no fourth round
starts after five minutes of synthesizing), runs ten cold starts per side and simulates every gate with 20 seeds
(each seed draws one finish moment, shared by the three systems, and our poll jitter); it takes a few minutes.
``--quick`` (the smoke test) synthesizes N=1 once per side, runs two cold starts per side and three seeds per gate.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import asset, cold_start, gate, report, start, summary, synth
from bench.common import NEWEST_BOTO3, ROOT

DEFAULT_OUT = ROOT / "bench"
DEFAULT_RAW = ROOT / "build" / "bench-raw.json"  # git-ignored: the committed summary is what RESULTS.md is built from
FULL: dict[str, Any] = {
    "counts": [1, 10, 100],
    "synth_repeats": 5,
    "synth_min_repeats": 3,
    "synth_budget_s": 300.0,
    "cold_runs": 10,
    "seeds": 20,
}
QUICK: dict[str, Any] = {
    "counts": [1],
    "synth_repeats": 1,
    "synth_min_repeats": 1,
    "synth_budget_s": None,
    "cold_runs": 2,
    "seeds": 3,
}


def _progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _newest_version(prefix: str) -> str:
    found = sorted(NEWEST_BOTO3.glob(f"{prefix}-*.dist-info"))
    return found[0].name.removeprefix(f"{prefix}-").removesuffix(".dist-info") if found else "missing"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N=1 only, one synth pair, 2 cold starts, 3 seeds")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for summary.json and RESULTS.md")
    parser.add_argument("--synth-repeats", type=int, help="synth runs per side and N (at least 1)")
    parser.add_argument("--cold-runs", type=int, help="cold starts per side (at least 1)")
    parser.add_argument("--seeds", type=int, help="seeds per gate row: finish moments and jitter (at least 1)")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> dict[str, Any]:
    settings = dict(QUICK if args.quick else FULL)
    for key in ("synth_repeats", "cold_runs", "seeds"):
        value = getattr(args, key)
        if value is not None:
            settings[key] = max(1, int(value))
    settings["synth_min_repeats"] = min(settings["synth_min_repeats"], settings["synth_repeats"])
    started = time.perf_counter()
    load_before = _load()
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    work = out / "out"  # bench/out/ is git-ignored: the kept N=1 cloud assemblies
    work.mkdir(exist_ok=True)

    _progress(f"synth: N={settings['counts']}, {settings['synth_repeats']} run(s) per side, interleaved")
    synth_rows, kept = synth.measure(
        settings["counts"],
        settings["synth_repeats"],
        work,
        _progress,
        min_repeats=settings["synth_min_repeats"],
        budget_s=settings["synth_budget_s"],
    )
    _progress("asset: zipping the synthesized asset folders")
    asset_figures = asset.measure(kept)
    function = synth.handler_function_config(kept["ours"])
    _progress(f"cold start: {settings['cold_runs']} run(s) per side, interleaved")
    cold = cold_start.measure(settings["cold_runs"], _progress)
    _progress(f"gate: T={list(gate.FINISH_AFTER_S)}, {settings['seeds']} seed(s) each")
    gate_rows = gate.measure(function, settings["seeds"])
    _progress(f"start: {[f'{mode} T={t}' for mode, t in start.ROWS]}, {settings['seeds']} seed(s) each")
    start_rows = start.measure(function, settings["seeds"])

    results: dict[str, Any] = {
        "synth": synth_rows,
        "asset": asset_figures,
        "cold_start": cold,
        "gate": gate_rows,
        "start": start_rows,
        "prices": gate.PRICES.describe(),
        "price_values": {
            "lambda_arm64_usd_per_gb_s": gate.PRICES.lambda_arm64_usd_per_gb_s,
            "lambda_usd_per_request": gate.PRICES.lambda_usd_per_request,
            "stepfunctions_standard_usd_per_transition": gate.PRICES.stepfunctions_standard_usd_per_transition,
            "eventbridge_scheduled_rule_usd_per_invocation": gate.PRICES.eventbridge_scheduled_rule_usd_per_invocation,
        },
        "gate_models": gate.describe_models(function),
    }
    results["meta"] = {
        "quick": bool(args.quick),
        "synth_counts": settings["counts"],
        "synth_repeats": settings["synth_repeats"],
        "synth_min_repeats": settings["synth_min_repeats"],
        "synth_budget_s": settings["synth_budget_s"],
        "cold_start_runs": settings["cold_runs"],
        "gate_seeds": settings["seeds"],
        "finished_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "runtime_s": round(time.perf_counter() - started, 1),
        "machine": f"{platform.machine()}, {_cpu_count()} CPUs, Python {platform.python_version()}",
        "load_average_1min": {"start": load_before, "end": _load()},
        "commit": _commit(),
        "versions": {
            "aws-cdk-lib": _version("aws-cdk-lib"),
            "jsii": _version("jsii"),
            "crhelper": _version("crhelper"),
            "boto3 (dev)": _version("boto3"),
            "boto3 (cold start)": _newest_version("boto3"),
            "botocore (cold start)": _newest_version("botocore"),
        },
    }
    raw = DEFAULT_RAW if out == DEFAULT_OUT else out / "bench-raw.json"
    raw.parent.mkdir(parents=True, exist_ok=True)
    raw.write_text(json.dumps(results, indent=2) + "\n")
    summarized = summary.summarize(results)
    summarized["targets"] = report.evaluate(summarized)
    summary.write(out / "summary.json", summarized)
    (out / "RESULTS.md").write_text(report.render(summarized))
    met = sum(1 for t in summarized["targets"] if t["met"])
    _progress(
        f"done in {results['meta']['runtime_s']:.0f} s: {met}/{len(summarized['targets'])} target rows met; "
        f"wrote {out / 'summary.json'}, {out / 'RESULTS.md'} and {raw}"
    )
    return summarized


def _cpu_count() -> int:
    return os.cpu_count() or 1


def _commit() -> str:
    """The commit measured, marked when the product sources differ from it."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()

    try:
        head, dirty = git("rev-parse", "--short", "HEAD"), git("status", "--porcelain", "--", "lambda", "constructs")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" (+ uncommitted changes to lambda/ or constructs/)" if dirty else "")


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def main(argv: list[str] | None = None) -> int:
    run(parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
