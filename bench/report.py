"""RESULTS.md from the committed summary: every target row with its verdict and a one-line reason, then one table per
figure and a few sentences of method. ``python -m bench.report [SUMMARY]`` rebuilds RESULTS.md beside the summary
(bench/summary.json by default) without measuring anything; every figure it prints comes from the summary.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bench import summary as summary_file

ASSET_LIMIT_BYTES = 150_000  # "150 KB", read strictly as 150,000 bytes
COLD_START_LIMIT = 1.3
LATENCY_LIMIT_S = 5.0
COST_FRACTION = 1 / 5
FIGURES = {"synth": "1 synth", "asset": "2 asset", "cold_start": "3 cold start", "gate": "4 gate", "start": "5 start"}
DEFAULT_SUMMARY = Path(__file__).resolve().parent / "summary.json"


def _usd(value: float) -> str:
    return f"${value:.6f}" if value >= 0.0001 else f"${value:.2e}"


def _target(figure: str, row: str, target: str, met: bool, reason: str) -> dict[str, Any]:
    return {"figure": FIGURES[figure], "row": row, "target": target, "met": met, "reason": reason}


def evaluate(s: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per target row: what was compared, met or missed, and a one-line reason with the figures."""
    targets = _synth_targets(s["synth"])
    ours, awscr = s["asset"]["ours_zip_bytes"], s["asset"]["awscr_zip_bytes"]
    reason = f"ours {ours:,} B ({ours / ASSET_LIMIT_BYTES:.0%} of the limit), AwsCR {awscr:,} B"
    met = ours <= ASSET_LIMIT_BYTES
    targets.append(_target("asset", "zip", "our asset <= 150 KB (150,000 bytes) zipped", met, reason))
    c = s["cold_start"]
    met = c["ratio_median"] <= COLD_START_LIMIT and c["ratio_pairs_median"] <= COLD_START_LIMIT
    reason = f"ours {c['ours_ms_median']:.0f} ms, bare {c['bare_boto3_ms_median']:.0f} ms: ratios "
    reason += f"{c['ratio_median']:.2f} and {c['ratio_pairs_median']:.2f}, {'both' if met else 'not both'} <= 1.3"
    targets.append(_target("cold_start", "median of runs", "ours <= 1.3 x bare boto3 (both ratios)", met, reason))
    for row in s["gate"]:
        targets += _gate_targets(s["models"]["usd_per_s_waiting"], row)
    return targets + [_start_target(row) for row in s["start"]]


def _synth_targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    r = next((row for row in rows if row["n"] == 100), rows[-1])
    label = f"N={r['n']}" + ("" if r["n"] == 100 else " (quick run: N=100 not measured)")
    # Both ways of forming the ratio must agree: with a handful of runs on a loaded machine either alone can flip.
    met = r["time_ratio_median"] <= 1.0 and r["time_ratio_pairs_median"] <= 1.0
    gap, spread = abs(r["ours_s"] - r["awscr_s"]), min(hi - lo for lo, hi in (r["ours_s_range"], r["awscr_s_range"]))
    reason = f"ours {r['ours_s']:.2f} s, AwsCR {r['awscr_s']:.2f} s: ratios {r['time_ratio_median']:.2f} and "
    reason += f"{r['time_ratio_pairs_median']:.2f}, {'both' if met else 'not both'} <= 1"
    reason += f"; the gap ({gap:.2f} s) is within the runs' spread ({spread:.2f} s)" if gap < spread else ""
    target = "our synth time <= AwsCustomResource's (ratio of medians and median pair ratio)"
    targets = [_target("synth", label, target, met, reason)]
    reason = f"ours {r['ours_bytes_per_job']:.0f} B/job, AwsCR {r['awscr_bytes_per_job']:.0f} B/job "
    reason += f"({r['ours_resources']} resources against {r['awscr_resources']})"
    if "ours_marginal_bytes_per_job" in r:
        reason += f"; a further job adds {r['ours_marginal_bytes_per_job']:.0f} B to ours, "
        reason += f"{r['awscr_marginal_bytes_per_job']:.0f} B to AwsCR"
    met = r["ours_bytes_per_job"] < r["awscr_bytes_per_job"]
    return [*targets, _target("synth", label, "our template bytes per job < AwsCustomResource's", met, reason)]


def _gate_targets(per_s: dict[str, float], row: dict[str, Any]) -> list[dict[str, Any]]:
    seeds, worst = row["seeds"], row["ours_latency_s_worst"]
    if row["finish_after_s"] == 0:
        calls = row["ours_api_calls_worst"]
        target = "exactly 1 Lookout for Vision call and 0 s latency (+1 Greengrass call if checked: figure 5)"
        reason = f"already SUCCEEDED: {calls} Describe, answered {worst:.1f} s later (worst of {seeds} seeds)"
        return [_target("gate", "T=0", target, calls == 1 and worst == 0, reason)]
    label = f"T={row['finish_after_s']} (+0-{row['phase_window_s']:.0f} s)"
    met = worst <= LATENCY_LIMIT_S
    reason = f"median {row['ours_latency_s_median']:.2f} s, worst {worst:.2f} s over {seeds} seeds, "
    reason += "within 5 s" if met else f"{worst - LATENCY_LIMIT_S:.2f} s over 5 s"
    targets = [_target("gate", label, "latency <= 5 s", met, reason)]
    over, tight = row["ours_invocations_over_allowance"], row["ours_tightest"]
    reason = f"{over} of {seeds} seeds over their allowance; the tightest (finish at {tight['finish_at_s']:.0f} s) "
    reason += f"used {tight['invocations']} of {tight['allowed']}"
    target = "invocations <= 5 per hour of waiting (ceil(5 x hours), at least 1)"
    targets.append(_target("gate", label, target, over == 0, reason))
    median, ratio = row["cost_ratio_ours_to_provider_median"], row["cost_ratio_ours_to_provider_worst"]
    met = ratio < COST_FRACTION
    ours, provider = per_s["ours"], per_s["provider"]
    reason = f"ours / Provider median {median:.3f}, worst {ratio:.3f}: a second of waiting costs ours {_usd(ours)}, "
    reason += f"the Provider {_usd(provider)}: {ours / provider:.2f} of it"
    target = "cost < 1/5 of the Provider framework's (per seed, same finish moment)"
    return [*targets, _target("gate", label, target, met, reason)]


def _start_target(row: dict[str, Any]) -> dict[str, Any]:
    t, lv, gg = row["finish_after_s"], row["lookoutvision_calls_worst"], row["greengrass_calls_worst"]
    starts, latency, invocations = row["starts_worst"], row["latency_s_worst"], row["invocations_worst"]
    worst = f"worst of {row['seeds']} seeds: {invocations} invocation(s)"
    if row["mode"] == "component":
        met, label = lv == 1 and gg == 1 and latency == 0, "component checked, T=0"
        target = "exactly 1 Lookout for Vision call plus 1 Greengrass call and 0 s latency"
        reason = f"{worst}, {lv} Describe and {gg} DescribeComponent, answered after {latency:.2f} s"
    elif t == 0:
        met, label = starts == 1 and lv == 3 and gg == 1 and latency == 0, "started, done at once"
        target = "1 Start, 3 Lookout for Vision calls in all, 1 Greengrass call, 0 s latency"
        reason = f"{worst}, not found, {starts} Start, {lv - 1 - starts} Describe, {gg} Greengrass, {latency:.2f} s"
    else:
        bound, allowed, median = row["poll_interval_high_s"], row["invocations_allowed"], row["latency_s_median"]
        met, label = starts == 1 and latency <= bound and invocations <= allowed, f"started, T={t}"
        target = f"1 Start, latency <= {bound:g} s (the poll bound), at most {allowed} invocation(s)"
        reason = f"{worst}, {starts} Start, {lv} Lookout for Vision calls, {latency:.2f} s late (median {median:g} s)"
    return _target("start", label, target, met, reason)


def _median_worst(row: dict[str, Any], *keys: str, fmt: str = "g") -> dict[str, str]:
    return {key: f"{row[f'{key}_median']:{fmt}} / {row[f'{key}_worst']:{fmt}}" for key in keys}


# RESULTS.md, formatted with the summary; a line "@name cells" stands for one line of cells per row of rows[name].
TEMPLATE = """\
# Benchmark: ModelPackagingJob against AwsCustomResource, crhelper polling and the Provider framework

`{command}`, {meta[finished_at]}, {meta[runtime_s]:.0f} s on {meta[machine]} (1-minute load {load}). \
Commit {meta[commit]}; {versions}. Pairs ran interleaved and are compared as ratios (times are this machine's).

## Targets

| figure | row | target | verdict | reason |
|---|---|---|---|---|
@targets | {figure} | {row} | {target} | {verdict} | {reason} |

{met} of {count} target rows met.

## 1. Synth scaling (`synth`)

| N | ours s | AwsCR s | ratio | pair ratio | ours CPU s | AwsCR CPU s | ours B/job | AwsCR B/job | ours res. \
| AwsCR res. |
|---|---|---|---|---|---|---|---|---|---|---|
@synth | {n} | {ours_s:.2f} | {awscr_s:.2f} | {time_ratio_median:.2f} | {time_ratio_pairs_median:.2f} \
| {ours_cpu_s:.2f} | {awscr_cpu_s:.2f} | {ours_bytes_per_job:.0f} | {awscr_bytes_per_job:.0f} | {ours_resources} \
| {awscr_resources} |

Median of {synth[0][runs]} interleaved runs per cell, each a fresh `python -m bench.synth_app` process timed from \
outside (CPU: user + sys with its Node.js kernel). AwsCR: N `AwsCustomResource`s calling describeModelPackagingJob \
with the same five outputs. Pair ratio: median of the per-pair ratios. At N={synth_resource_types[n]}: ours \
{ours_types}; AwsCR {awscr_types}.

## 2. Asset size (`asset`)

| | zipped bytes | unzipped bytes | files |
|---|---|---|---|
| ours (handler, crhelper, model) | {asset[ours_zip_bytes]:,} | {asset[ours_unzipped_bytes]:,} | {asset[ours_files]} |
| AwsCR (Node.js handler) | {asset[awscr_zip_bytes]:,} | {asset[awscr_unzipped_bytes]:,} | {asset[awscr_files]} |

The `cdk.out/asset.*` folders of the N=1 synth, zipped as the CDK CLI zips them. AwsCR's handler uses the SDK of \
the Node.js runtime, which is not in its asset.

## 3. Cold start (`cold_start`)

| | median ms | worst ms | median ms in process |
|---|---|---|---|
| ours | {cold[ours_ms_median]:.0f} | {cold[ours_ms_worst]:.0f} | {cold[ours_in_process_ms_median]:.0f} |
| bare | {cold[bare_boto3_ms_median]:.0f} | {cold[bare_boto3_ms_worst]:.0f} | {cold[bare_in_process_ms_median]:.0f} |

{cold[runs]} interleaved pairs after a warm-up pair, each a `python -I -S` child with only the newest boto3 on \
sys.path. Ours imports the asset and answers one Create for a SUCCEEDED job (a loopback Describe and ResponseURL, \
both checked); bare imports boto3 and makes one client. The clock runs from just before `Popen` to the end of the \
child's work.

## 4. Gate latency and cost (`gate`)

| T s | finish moments s | ours latency s (median / worst) | crhelper latency s (median / worst) \
| Provider latency s (median / worst) |
|---|---|---|---|---|
@gate | {finish_after_s} | {finish_at_s_min:.1f}-{finish_at_s_max:.1f} | {ours_latency_s} | {crhelper_latency_s} \
| {provider_latency_s} |

| T s | ours calls | ours inv. (worst) | ours GB-s | ours $ | crhelper $ | Provider transitions (worst) | Provider $ \
| ours / Provider $ per seed (median / worst) |
|---|---|---|---|---|---|---|---|---|
@gate | {finish_after_s} | {ours_api_calls_median} | {ours_invocations_worst} | {ours_gb_s_median:.2f} | {ours_usd} \
| {crhelper_usd} | {provider_state_transitions_worst} | {provider_usd} | {cost_ratio_ours_to_provider} |

{gate[0][seeds]} seeds per row, medians unless marked; for T > 0 a seed's job finishes at T plus a phase drawn from \
[0, {models[finish_phase_window_s]:.0f} s), the same moment for all three. **Ours**: the handler's `lifecycle.run` \
on a virtual clock, with the function's {models[ours_function][memory_mb]} MB and \
{models[ours_function][timeout_s]} s as synthesized. **crhelper** (model): `poll_create`, a poll every \
{models[crhelper_polling_interval_s]:.0f} s from one interval after the request. **Provider** (model): an \
isComplete poll every {models[provider_query_interval_s]:.0f} s, each a state transition and two short invocations \
(billed {models[assumptions][short_invocation_s]} s). Prices: {prices}. The models in full: bench/gate.py.

## 5. Component check and starting the job (`start`)

| row | T (s) | Lookout for Vision calls | Start calls | Greengrass calls | latency (s) | invocations |
|---|---|---|---|---|---|---|
@start | {mode} | {finish_after_s} | {lookoutvision_calls} | {starts} | {greengrass_calls} | {latency_s} \
| {invocations} |

Median / worst of {start[0][seeds]} seeds: `lifecycle.run` on a virtual clock against a fake Lookout for Vision \
whose job finishes T s after its Start (plus a phase within one poll for T > 0) and a DEPLOYABLE Greengrass component.

## Reproduce

`make bench` measures, writes bench/summary.json and this file, and leaves the raw runs in build/bench-raw.json; \
`python -m bench.report` rebuilds this file from bench/summary.json alone.
"""


def render(s: dict[str, Any]) -> str:
    meta, targets = s["meta"], s["targets"]
    context = {
        **s,
        "command": "python -m bench.run" + (" --quick" if meta["quick"] else ""),
        "load": "{start} to {end}".format_map(meta["load_average_1min"]),
        "versions": ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
        "met": sum(t["met"] for t in targets),
        "count": len(targets),
        "ours_types": ", ".join(f"{k} x{v}" for k, v in s["synth_resource_types"]["ours"].items()),
        "awscr_types": ", ".join(f"{k} x{v}" for k, v in s["synth_resource_types"]["awscr"].items()),
        "cold": s["cold_start"],
        "prices": "; ".join(s["models"]["price_notes"].values()),
    }
    start_keys = ("lookoutvision_calls", "starts", "greengrass_calls", "latency_s", "invocations")
    rows = {
        "targets": [{**t, "verdict": "met" if t["met"] else "**missed**"} for t in targets],
        "synth": s["synth"],
        "gate": [
            {**row, **_median_worst(row, "ours_latency_s", "crhelper_latency_s", "provider_latency_s", fmt=".2f")}
            | _median_worst(row, "cost_ratio_ours_to_provider", fmt=".3f")
            | {f"{k}_usd": _usd(row[f"{k}_cost_usd_median"]) for k in ("ours", "crhelper", "provider")}
            for row in s["gate"]
        ],
        "start": [{**row, **_median_worst(row, *start_keys)} for row in s["start"]],
    }
    out: list[str] = []
    for line in TEMPLATE.splitlines():
        name, _, cells = line[1:].partition(" ")
        out += [cells.format_map(row) for row in rows[name]] if line.startswith("@") else [line.format_map(context)]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.splitlines()[0])
    parser.add_argument("summary", nargs="?", type=Path, default=DEFAULT_SUMMARY, help="the summary.json to render")
    path = parser.parse_args(argv).summary
    (path.parent / "RESULTS.md").write_text(render(summary_file.load(path)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
