"""Figure 1, synth scaling: N jobs in one stack, ModelPackagingJob against AwsCustomResource.

Every synth runs in a fresh interpreter (``python -m bench.synth_app``), so each one pays what ``cdk synth`` pays:
interpreter start, the jsii kernel (Node.js) start, the construct library imports, the constructs, and app.synth()
into a fresh folder. The wall time is taken around the subprocess; its CPU time (user + sys of it and the Node.js
kernel it waits for, from getrusage(RUSAGE_CHILDREN)) is recorded too, as it moves less with the machine's load.
Runs alternate ours, AwsCR, ours, AwsCR ... for each N, so both sides see the same machine load; per-pair ratios
are reported next to the medians.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import ROOT, cdk_env, median
from bench.synth_app import STACK_NAME

IMPLS = ("ours", "awscr")
SYNTH_TIMEOUT_S = 240


@dataclass(frozen=True)
class TemplateStats:
    template_bytes: int
    resources: int
    resource_types: dict[str, int]


@dataclass(frozen=True)
class SynthTime:
    wall_s: float
    cpu_s: float  # user + sys of the synth process and the children it waited for (the jsii Node.js kernel)


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def synth_once(impl: str, count: int, outdir: Path) -> SynthTime:
    """Synthesize the app in a fresh interpreter; return its wall time and CPU time in seconds."""
    cpu_before = _children_cpu_s()
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "bench.synth_app", impl, str(count), str(outdir)],
        cwd=ROOT,
        env=cdk_env(),
        capture_output=True,
        text=True,
        timeout=SYNTH_TIMEOUT_S,
        check=False,
    )
    elapsed = time.perf_counter() - started
    cpu = _children_cpu_s() - cpu_before
    if proc.returncode != 0:
        raise RuntimeError(f"synth of {impl} N={count} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return SynthTime(elapsed, cpu)


def template_path(outdir: Path) -> Path:
    return outdir / f"{STACK_NAME}.template.json"


def template_stats(outdir: Path) -> TemplateStats:
    path = template_path(outdir)
    template = json.loads(path.read_text())
    resources: dict[str, Any] = template.get("Resources", {})
    types: dict[str, int] = {}
    for entry in resources.values():
        types[entry["Type"]] = types.get(entry["Type"], 0) + 1
    return TemplateStats(path.stat().st_size, len(resources), dict(sorted(types.items())))


def handler_function_config(outdir: Path) -> dict[str, Any]:
    """MemorySize, Timeout and Architectures of our handler function, as synthesized (the gate model uses them)."""
    from cdk_lookoutvision_packaging._provider import HANDLER

    template = json.loads(template_path(outdir).read_text())
    functions = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler") == HANDLER
    ]
    if len(functions) != 1:
        raise RuntimeError(f"expected one handler function in the synthesized template, found {len(functions)}")
    props = functions[0]
    return {
        "memory_mb": int(props.get("MemorySize", 128)),
        "timeout_s": int(props["Timeout"]),
        "architectures": list(props.get("Architectures", ["x86_64"])),
        "runtime": str(props.get("Runtime", "")),
    }


def measure(
    counts: Sequence[int],
    repeats: int,
    keep_dir: Path,
    progress: Callable[[str], None] = lambda _message: None,
    min_repeats: int | None = None,
    budget_s: float | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Path]]:
    """Synthesize every N up to ``repeats`` times per implementation, interleaved (ours, AwsCR, ours, AwsCR ...);
    return the rows and, per implementation, a kept cloud assembly of the smallest N (for the asset figure and the
    function config).

    Rounds run over all N in turn. Once ``min_repeats`` rounds are done, no further round starts after
    ``budget_s`` seconds, so that a heavily loaded machine still finishes in time (the rows record how many ran).
    """
    floor = repeats if min_repeats is None else max(1, min(min_repeats, repeats))
    times: dict[tuple[str, int], list[SynthTime]] = {(impl, n): [] for impl in IMPLS for n in counts}
    stats: dict[tuple[str, int], TemplateStats] = {}
    kept: dict[str, Path] = {}
    smallest = min(counts)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-synth-") as scratch:
        for repeat in range(repeats):
            if repeat >= floor and budget_s is not None and time.perf_counter() - started > budget_s:
                progress(f"synth: time budget of {budget_s:.0f} s used up after {repeat} rounds; stopping there")
                break
            for count in counts:
                for impl in IMPLS:  # A B A B: each pair shares the machine's load of the moment
                    outdir = Path(scratch) / f"{impl}-{count}-{repeat}"
                    measured = synth_once(impl, count, outdir)
                    times[(impl, count)].append(measured)
                    stats[(impl, count)] = template_stats(outdir)
                    progress(
                        f"synth N={count} {impl} run {repeat + 1}: {measured.wall_s:.2f} s wall, "
                        f"{measured.cpu_s:.2f} s CPU"
                    )
                    if count == smallest and repeat == 0:
                        target = keep_dir / impl
                        shutil.rmtree(target, ignore_errors=True)
                        shutil.move(str(outdir), str(target))
                        kept[impl] = target
                    else:
                        shutil.rmtree(outdir, ignore_errors=True)
    rows = [_row(count, times, stats) for count in counts]
    add_marginal_bytes(rows)
    return rows, kept


def _row(
    count: int, times: dict[tuple[str, int], list[SynthTime]], stats: dict[tuple[str, int], TemplateStats]
) -> dict[str, Any]:
    ours_t = [t.wall_s for t in times[("ours", count)]]
    awscr_t = [t.wall_s for t in times[("awscr", count)]]
    ours_cpu = [t.cpu_s for t in times[("ours", count)]]
    awscr_cpu = [t.cpu_s for t in times[("awscr", count)]]
    ours, awscr = stats[("ours", count)], stats[("awscr", count)]
    pair_ratios = [a / b for a, b in zip(ours_t, awscr_t, strict=True)]
    return {
        "n": count,
        "ours_s": round(median(ours_t), 3),
        "awscr_s": round(median(awscr_t), 3),
        "ours_template_bytes": ours.template_bytes,
        "awscr_template_bytes": awscr.template_bytes,
        "ours_resources": ours.resources,
        "awscr_resources": awscr.resources,
        "runs": len(ours_t),
        "time_ratio_median": round(median(ours_t) / median(awscr_t), 3),
        "time_ratio_pairs_median": round(median(pair_ratios), 3),
        "ours_cpu_s": round(median(ours_cpu), 3),
        "awscr_cpu_s": round(median(awscr_cpu), 3),
        "cpu_ratio_median": round(median(ours_cpu) / median(awscr_cpu), 3),
        "ours_bytes_per_job": round(ours.template_bytes / count, 1),
        "awscr_bytes_per_job": round(awscr.template_bytes / count, 1),
        "ours_runs_s": [round(t, 3) for t in ours_t],
        "awscr_runs_s": [round(t, 3) for t in awscr_t],
        "ours_runs_cpu_s": [round(t, 3) for t in ours_cpu],
        "awscr_runs_cpu_s": [round(t, 3) for t in awscr_cpu],
        "ours_resource_types": ours.resource_types,
        "awscr_resource_types": awscr.resource_types,
    }


def add_marginal_bytes(rows: list[dict[str, Any]]) -> None:
    """Template bytes one more job adds, from the smallest to the largest N (what a job costs once the shared
    function, role and policies exist)."""
    if len(rows) < 2:
        return
    first, last = rows[0], rows[-1]
    span = last["n"] - first["n"]
    for impl in IMPLS:
        marginal = (last[f"{impl}_template_bytes"] - first[f"{impl}_template_bytes"]) / span
        for row in rows:
            row[f"{impl}_marginal_bytes_per_job"] = round(marginal, 1)
