"""Targets, checked as ratios within one run, and the readable RESULTS.md."""

from __future__ import annotations

from typing import Any

from bench.gate import ASSUMPTIONS, PRICES

ASSET_LIMIT_BYTES = 150_000  # "150 KB", read strictly as 150,000 bytes
COLD_START_LIMIT = 1.3
LATENCY_LIMIT_S = 5.0
INVOCATIONS_PER_HOUR = 5
COST_FRACTION = 1 / 5
SQS_USD_PER_REQUEST = 0.40 / 1_000_000  # only for the "what would fix it" estimate


def _usd(value: float) -> str:
    return f"${value:.6f}" if value >= 0.0001 else f"${value:.2e}"


def _synth_row(results: dict[str, Any]) -> dict[str, Any]:
    rows = results["synth"]
    exact = [r for r in rows if r["n"] == 100]
    return exact[0] if exact else max(rows, key=lambda r: r["n"])


def evaluate(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per target row: what was compared, the figures, met or missed, and for a miss why and the fix."""
    targets: list[dict[str, Any]] = []
    synth = _synth_row(results)
    n = synth["n"]
    label = f"N={n}" + ("" if n == 100 else " (quick run: N=100 not measured)")
    # Both ways of forming the ratio must agree: with a handful of runs on a loaded machine either alone can flip.
    met = synth["time_ratio_median"] <= 1.0 and synth["time_ratio_pairs_median"] <= 1.0
    targets.append(
        {
            "figure": "synth",
            "row": label,
            "target": "our synth time <= AwsCustomResource's (ratio of medians and median per-pair ratio both <= 1)",
            "value": f"ours {synth['ours_s']:.2f} s, AwsCR {synth['awscr_s']:.2f} s (ratio of medians "
            f"{synth['time_ratio_median']:.2f}, median of per-pair ratios {synth['time_ratio_pairs_median']:.2f}; "
            f"CPU {synth['ours_cpu_s']:.2f} s vs {synth['awscr_cpu_s']:.2f} s, ratio {synth['cpu_ratio_median']:.2f})",
            "met": met,
            "why": "" if met else _synth_time_miss(results, synth),
        }
    )
    met = synth["ours_bytes_per_job"] < synth["awscr_bytes_per_job"]
    targets.append(
        {
            "figure": "synth",
            "row": label,
            "target": "our template bytes per job < AwsCustomResource's",
            "value": f"ours {synth['ours_bytes_per_job']:.0f} B/job, AwsCR {synth['awscr_bytes_per_job']:.0f} B/job",
            "met": met,
            "why": "" if met else _bytes_miss(synth),
        }
    )
    asset = results["asset"]
    met = asset["ours_zip_bytes"] <= ASSET_LIMIT_BYTES
    targets.append(
        {
            "figure": "asset",
            "row": "zip",
            "target": "our asset <= 150 KB (150,000 bytes) zipped",
            "value": f"ours {asset['ours_zip_bytes']:,} B, AwsCR {asset['awscr_zip_bytes']:,} B",
            "met": met,
            "why": "" if met else "The asset grew: check what build_asset copies (only *.py, crhelper, the model).",
        }
    )
    cold = results["cold_start"]
    met = cold["ratio_median"] <= COLD_START_LIMIT and cold["ratio_pairs_median"] <= COLD_START_LIMIT
    targets.append(
        {
            "figure": "cold_start",
            "row": "median of runs",
            "target": "ours <= 1.3 x bare boto3 (ratio of medians and median per-pair ratio)",
            "value": f"ours {cold['ours_ms_median']:.0f} ms, bare {cold['bare_boto3_ms_median']:.0f} ms "
            f"(ratio {cold['ratio_median']:.2f}, per-pair median {cold['ratio_pairs_median']:.2f})",
            "met": met,
            "why": "" if met else _cold_start_miss(cold),
        }
    )
    for row in results["gate"]:
        t = row["finish_after_s"]
        if t == 0:
            met = row["ours_api_calls_max"] == 1 and row["ours_latency_s"] == 0
            targets.append(
                {
                    "figure": "gate",
                    "row": "T=0",
                    "target": "exactly 1 API call and 0 s latency",
                    "value": f"{row['ours_api_calls_max']} call(s), {row['ours_latency_s']:.1f} s, "
                    f"{row['ours_invocations']} invocation(s)",
                    "met": met,
                    "why": "" if met else "An already SUCCEEDED job must be answered after one Describe, no sleep.",
                }
            )
            continue
        met = row["ours_latency_s"] <= LATENCY_LIMIT_S
        targets.append(
            {
                "figure": "gate",
                "row": f"T={t}",
                "target": "latency <= 5 s",
                "value": f"worst {row['ours_latency_s']:.2f} s, median {row['ours_latency_s_median']:.2f} s "
                f"over {row['seeds']} seeds",
                "met": met,
                "why": "" if met else "Two Describes were more than 5 s apart: check POLL_INTERVAL_S and the hand-off.",
            }
        )
        met = row["ours_invocations"] <= row["ours_invocations_allowed"]
        targets.append(
            {
                "figure": "gate",
                "row": f"T={t}",
                "target": "invocations <= 5 per hour of waiting (ceil(5 x hours), at least 1)",
                "value": f"{row['ours_invocations']} invocation(s), {row['ours_invocations_allowed']} allowed "
                f"({row['ours_invocations_per_hour']:.1f}/h if prorated)",
                "met": met,
                "why": "" if met else "Each invocation must wait ~14 minutes before handing off.",
            }
        )
        met = row["ours_cost_usd"] < COST_FRACTION * row["provider_cost_usd"]
        targets.append(
            {
                "figure": "gate",
                "row": f"T={t}",
                "target": "cost < 1/5 of the Provider framework's",
                "value": f"ours {_usd(row['ours_cost_usd'])}, Provider {_usd(row['provider_cost_usd'])} "
                f"(ratio {row['cost_ratio_ours_to_provider']:.3f}, target < 0.200)",
                "met": met,
                "why": "" if met else _cost_miss(row),
            }
        )
    return targets


def _synth_time_miss(results: dict[str, Any], row: dict[str, Any]) -> str:
    rows = results["synth"]
    text = (
        f"At N={row['n']} ours took {row['ours_s']:.2f} s against AwsCR's {row['awscr_s']:.2f} s "
        f"({row['ours_s'] - row['awscr_s']:+.2f} s; ratio of medians {row['time_ratio_median']:.2f}, median of "
        f"per-pair ratios {row['time_ratio_pairs_median']:.2f}, CPU-time ratio {row['cpu_ratio_median']:.2f}). "
    )
    if (row["time_ratio_median"] <= 1.0) != (row["time_ratio_pairs_median"] <= 1.0):
        text += (
            "The two wall-time ratios disagree, so at this machine's noise the two are a tie at best, and a tie "
            "is not counted as met. "
        )
    ours_runs, awscr_runs = row.get("ours_runs_s") or [], row.get("awscr_runs_s") or []
    if ours_runs and awscr_runs:
        text += (
            f"Its {len(ours_runs)} runs spread over {min(ours_runs):.2f}-{max(ours_runs):.2f} s for ours and "
            f"{min(awscr_runs):.2f}-{max(awscr_runs):.2f} s for AwsCR. "
        )
    fixed_part_explains = True
    if len(rows) >= 2:
        first, last = rows[0], rows[-1]
        span = last["n"] - first["n"]
        ours_slope = (last["ours_s"] - first["ours_s"]) / span * 1000
        awscr_slope = (last["awscr_s"] - first["awscr_s"]) / span * 1000
        text += (
            f"In this run the fixed part (N={first['n']}) was ours {first['ours_s']:.2f} s against AwsCR "
            f"{first['awscr_s']:.2f} s, and each further job cost ours {ours_slope:.0f} ms against AwsCR "
            f"{awscr_slope:.0f} ms. "
        )
        fixed_part_explains = first["ours_s"] > first["awscr_s"]
    if not fixed_part_explains:
        gap = row["ours_s"] - row["awscr_s"]
        spread = min(max(ours_runs) - min(ours_runs), max(awscr_runs) - min(awscr_runs)) if ours_runs else 0.0
        noise = (
            f"the gap ({gap:.2f} s) is smaller than either side's spread between runs (at least {spread:.2f} s), so "
            "at this machine's noise the row is a tie, which is not counted as met"
            if 0 < gap < spread
            else "the measured parts do not show where the gap comes from"
        )
        return text + (
            f"This run does not show ours paying a larger fixed part, so that does not explain the miss: {noise}. "
            "By construction ours has the larger fixed part (its own log group, a second policy, an "
            "EventInvokeConfig, a cdk-nag acknowledgement, local bundling) and the cheaper part per job."
        )
    return text + (
        "Ours pays a larger fixed part: its shared function brings its own log group, a role without managed "
        "policies plus its default policy, a second policy for the hand-off permission, an EventInvokeConfig, a "
        "cdk-nag acknowledgement and a local bundling step, all jsii round trips that AwsCR's singleton function "
        "and role do not make. Per job ours is cheaper (one custom resource and one get_att_string per attribute "
        "against AwsCR's resource plus a policy per job), so the gap shrinks as N grows. Already done after "
        "profiling: crhelper is located without importing it (and boto3), attributes take one jsii call, and the "
        "shared function is remembered per stack in Python. The fixed resources are the price of least privilege "
        "and an own log group, and stay; the row is missed by that fixed part, not by how ours scales."
    )


def _bytes_miss(row: dict[str, Any]) -> str:
    if row["n"] < 100:
        return (
            f"At N={row['n']} the shared part dominates: our one function per stack comes with its own log group, a "
            "role, two policies and an event-invoke config, where AwsCR has a role and a function. The target is "
            "defined at N=100, where that part is spread over 100 jobs; the full run measures it."
        )
    return (
        f"At N={row['n']} ours writes {row['ours_bytes_per_job']:.0f} B per job against AwsCR's "
        f"{row['awscr_bytes_per_job']:.0f}; look at what each Custom::LookoutVisionModelPackagingJob carries."
    )


def _cold_start_miss(cold: dict[str, Any]) -> str:
    return (
        f"Ours answers a whole request in {cold['ours_ms_median']:.0f} ms against "
        f"{cold['bare_boto3_ms_median']:.0f} ms for bare boto3 plus one client. Most of the difference is "
        "crhelper's `CfnResource.__init__`: it creates three boto3 clients (lambda, events, logs) when index "
        "creates its helper, for the polling that index never uses; the rest is our modules, one Describe, the "
        "JSON logs and the PUT. Measured while building this benchmark, in interleaved batches of 6-8 runs on this "
        "machine: as is, ratio 1.70, 1.23 and 1.62; with crhelper's client creation skipped (AWS_SAM_LOCAL=true "
        "in the child, which makes crhelper 2.0.12 skip exactly that and nothing else on this path), 1.03, 1.00 "
        "and 1.08. Fix (product): in `index._Helper.__init__` "
        "keep crhelper from creating those clients, e.g. call `CfnResource.__init__` with "
        "`crhelper.resource_helper.boto3` temporarily replaced by a stub whose `client()` returns None, or "
        "replicate its 15-line `__init__` without them (crhelper is pinned exactly, so either is stable)."
    )


def _cost_miss(row: dict[str, Any]) -> str:
    memory_gb = 128 / 1024.0
    ours_per_s = memory_gb * PRICES.lambda_arm64_usd_per_gb_s
    short_gb_s = ASSUMPTIONS.short_invocation_s * ASSUMPTIONS.provider_memory_mb / 1024.0
    per_poll = PRICES.stepfunctions_standard_usd_per_transition + 2 * (
        PRICES.lambda_usd_per_request + short_gb_s * PRICES.lambda_arm64_usd_per_gb_s
    )
    provider_per_s = per_poll / ASSUMPTIONS.provider_query_interval_s
    sqs_per_poll = (
        PRICES.lambda_usd_per_request
        + ASSUMPTIONS.short_invocation_s * memory_gb * PRICES.lambda_arm64_usd_per_gb_s
        + 3 * SQS_USD_PER_REQUEST
    )
    sqs_per_s = sqs_per_poll / 3.25  # the mean of POLL_INTERVAL_S
    return (
        f"Ours keeps one 128 MB function running for the whole wait: {row['ours_gb_s']:.1f} GB-s and "
        f"{row['ours_invocations']} request(s) = {_usd(row['ours_cost_usd'])}. The Provider framework pays "
        f"{row['provider_state_transitions']} state transitions and {row['provider_invocations']} short invocations "
        f"= {_usd(row['provider_cost_usd'])}. Per second of waiting that is {_usd(ours_per_s)}/s against "
        f"{_usd(provider_per_s)}/s, a ratio of {ours_per_s / provider_per_s:.2f} at every T. No wait inside a "
        "running function can go lower: 128 MB is Lambda's smallest size, and the <= 5 invocations/hour target "
        "makes an invocation stay up for at least 12 minutes. So the three gate targets cannot all be met together "
        "at these prices. What would fix it: either restate the target as cost < 1/2 of the Provider's (met at "
        "every T), or give up the invocation target and continue the wait through an SQS queue with DelaySeconds "
        f"(one ~{ASSUMPTIONS.short_invocation_s * 1000:.0f} ms invocation and 3 SQS requests at $0.40/M per poll, "
        f"about {_usd(sqs_per_s)}/s, {sqs_per_s / provider_per_s:.2f} of the Provider's, at the same 5 s latency, "
        "but ~1,100 invocations per hour and a queue per stack). Polling less often would break the 5 s latency."
    )


# --- RESULTS.md ----------------------------------------------------------------------------------------------------

SYNTH_HEADERS = [
    "N",
    "ours s",
    "AwsCR s",
    "ratio",
    "pair ratio",
    "ours CPU s",
    "AwsCR CPU s",
    "ours bytes",
    "AwsCR bytes",
    "ours B/job",
    "AwsCR B/job",
    "ours resources",
    "AwsCR resources",
]
GATE_HEADERS = [
    "T s",
    "ours latency s (worst / median)",
    "ours calls",
    "ours inv.",
    "ours GB-s",
    "ours $",
    "crhelper latency s",
    "crhelper inv.",
    "crhelper $",
    "Provider latency s",
    "Provider inv.",
    "Provider transitions",
    "Provider $",
    "ours / Provider $",
]


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return lines


def _load_text(meta: dict[str, Any]) -> str:
    load = meta.get("load_average_1min") or {}
    return f"{load.get('start')} at the start, {load.get('end')} at the end"


def _mark(met: bool) -> str:
    return "met" if met else "**missed**"


def render(results: dict[str, Any]) -> str:
    meta = results["meta"]
    targets = results["targets"]
    out: list[str] = [
        "# Benchmark: ModelPackagingJob against AwsCustomResource, crhelper polling and the Provider framework",
        "",
        f"Written by `python -m bench.run{' --quick' if meta['quick'] else ''}` on {meta['finished_at']} in "
        f"{meta['runtime_s']:.0f} s ({meta['machine']}; 1-minute load average {_load_text(meta)}). Every pair "
        "was measured in this run, interleaved (A B A B), and is compared as a ratio: the machine is shared and "
        "noisy (other jobs ran beside this one), absolute times are not portable.",
        "",
        f"Commit measured: {meta.get('commit', 'unknown')}. Versions: "
        + ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
        + ".",
        "",
        "## Targets",
        "",
    ]
    out += _table(
        ["figure", "row", "target", "measured", "result"],
        [[t["figure"], t["row"], t["target"], t["value"], _mark(t["met"])] for t in targets],
    )
    met = sum(1 for t in targets if t["met"])
    out += ["", f"{met} of {len(targets)} target rows met."]
    misses = [t for t in targets if not t["met"]]
    if misses:
        out += ["", "### Why the missed rows are missed, and what would fix them", ""]
        seen: set[str] = set()
        for t in misses:
            key = t["figure"] + t["target"]
            if t["figure"] == "gate" and key in seen:
                out.append(f"- **{t['figure']} {t['row']}, {t['target']}:** as above; {t['value']}.")
                continue
            seen.add(key)
            out.append(f"- **{t['figure']} {t['row']}, {t['target']}:** {t['why']}")

    out += ["", "## 1. Synth scaling (`synth`)", ""]
    out += _table(
        SYNTH_HEADERS,
        [
            [
                str(r["n"]),
                f"{r['ours_s']:.2f}",
                f"{r['awscr_s']:.2f}",
                f"{r['time_ratio_median']:.2f}",
                f"{r['time_ratio_pairs_median']:.2f}",
                f"{r['ours_cpu_s']:.2f}",
                f"{r['awscr_cpu_s']:.2f}",
                f"{r['ours_template_bytes']:,}",
                f"{r['awscr_template_bytes']:,}",
                f"{r['ours_bytes_per_job']:.0f}",
                f"{r['awscr_bytes_per_job']:.0f}",
                str(r["ours_resources"]),
                str(r["awscr_resources"]),
            ]
            for r in results["synth"]
        ],
    )
    last = results["synth"][-1]
    out += [
        "",
        f"Median of {results['synth'][0]['runs']} runs per cell, each a fresh `python -m bench.synth_app` process "
        "(interpreter, jsii/Node.js kernel, imports, constructs, `app.synth()` into a new folder), timed from "
        "outside (wall time; CPU time = user + sys of the process and its jsii Node.js kernel, steadier under load but "
        "not what a user waits for). Ours: N `ModelPackagingJob`s. AwsCR: N `AwsCustomResource`s calling LookoutVision "
        "describeModelPackagingJob on Create and Update, physical id `<project>/<job>`, "
        "`AwsCustomResourcePolicy.from_sdk_calls(resources=ANY_RESOURCE)`, the five fields (ComponentVersionArn, "
        "ComponentName, ComponentVersion, Status, ModelVersion) read with `get_response_field` and named in "
        "`output_paths`. Analytics reporting is off on both stacks. Template bytes: the synthesized "
        "`<stack>.template.json` as written; resources: its `Resources` count. Ratio = ours / AwsCR; pair ratio = "
        "median of the per-pair ratios.",
        "",
        f"Resources at N={last['n']}: ours {last['ours_resource_types']}; AwsCR {last['awscr_resource_types']}.",
    ]
    if "ours_marginal_bytes_per_job" in last:
        out += [
            "",
            f"Marginal template bytes per extra job (N={results['synth'][0]['n']} to N={last['n']}): ours "
            f"{last['ours_marginal_bytes_per_job']:.0f}, AwsCR {last['awscr_marginal_bytes_per_job']:.0f}. "
            "AwsCR adds an IAM policy per job and repeats the whole SDK call twice (Create and Update) as a string.",
        ]
    asset = results["asset"]
    out += ["", "## 2. Asset size (`asset`)", ""]
    out += _table(
        ["", "zipped bytes", "unzipped bytes", "files"],
        [
            [
                "ours (handler, crhelper, Lookout for Vision model)",
                f"{asset['ours_zip_bytes']:,}",
                f"{asset['ours_unzipped_bytes']:,}",
                str(sum(a["files"] for a in asset["ours_assets"])),
            ],
            [
                "AwsCR (bundled Node.js SDK-call handler)",
                f"{asset['awscr_zip_bytes']:,}",
                f"{asset['awscr_unzipped_bytes']:,}",
                str(sum(a["files"] for a in asset["awscr_assets"])),
            ],
        ],
    )
    out += [
        "",
        "Each `cdk.out/asset.*` folder of the N=1 synth, zipped as the aws-cdk CLI's `zipDirectory` does (files "
        "only, dotfiles included, DEFLATE at zlib's default level, timestamps fixed to 1980-01-01, modes kept). "
        "AwsCR's handler relies on the SDK in the Node.js runtime (and installs the latest one at cold start when "
        "`InstallLatestAwsSdk` is true, its default here), which is not in its asset.",
    ]
    cold = results["cold_start"]
    out += ["", "## 3. Cold start (`cold_start`)", ""]
    out += _table(
        ["", "median ms (from before Popen)", "median ms (in process)"],
        [
            [
                "ours: import the bundled handler, answer one SUCCEEDED Create",
                f"{cold['ours_ms_median']:.0f}",
                f"{cold['ours_in_process_ms_median']:.0f}",
            ],
            [
                "bare: import boto3, create one Lookout for Vision client",
                f"{cold['bare_boto3_ms_median']:.0f}",
                f"{cold['bare_in_process_ms_median']:.0f}",
            ],
        ],
    )
    out += [
        "",
        f"{cold['runs']} runs each, interleaved, after one unmeasured warm-up pair. Both are `python -I -S` "
        "children with only `.deps/boto3-newest` (boto3/botocore 1.44.5, no lookoutvision model) and, for ours, the "
        "asset from `build_asset` on sys.path, the same environment, and AWS_DATA_PATH pointing at the asset's "
        "models/ folder. Ours calls `index.handler` for a Create whose Describe (loopback Lookout for Vision API) "
        "returns SUCCEEDED and whose answer is PUT to a loopback ResponseURL; each run is checked to have made one "
        "call and sent one SUCCESS. The clock starts in the parent immediately before `Popen` "
        "(CLOCK_MONOTONIC is system-wide) and stops in the child once its work is done, so process creation and "
        "interpreter start count on both sides and interpreter teardown on neither; the in-process column starts "
        "at the driver's first line.",
    ]
    out += ["", "## 4. Gate latency and cost (`gate`)", ""]
    out += _table(
        GATE_HEADERS,
        [
            [
                str(r["finish_after_s"]),
                f"{r['ours_latency_s']:.2f} / {r['ours_latency_s_median']:.2f}",
                str(r["ours_api_calls"]),
                str(r["ours_invocations"]),
                f"{r['ours_gb_s']:.2f}",
                _usd(r["ours_cost_usd"]),
                f"{r['crhelper_latency_s']:.0f}",
                str(r["crhelper_invocations"]),
                _usd(r["crhelper_cost_usd"]),
                f"{r['provider_latency_s']:.0f}",
                str(r["provider_invocations"]),
                str(r["provider_state_transitions"]),
                _usd(r["provider_cost_usd"]),
                f"{r['cost_ratio_ours_to_provider']:.3f}",
            ]
            for r in results["gate"]
        ],
    )
    models = results["gate_models"]
    a = models["assumptions"]
    fn = models["ours_function"]
    out += [
        "",
        "**Ours** is the real `packaging_job.wait_for_job` driven on a virtual clock (`packaging_job.Clock` with an "
        "injected now, sleep and seeded Random; nothing patched), invoked the way `index._gate` invokes it: "
        "`deadline = started_at + wait_timeout` "
        f"({a['wait_timeout_s']} s), `yield_at = invocation start + {fn['timeout_s']} s function timeout - "
        f"custom_resource.HANDOFF_MARGIN_S ({models['ours_handoff_margin_s']:.0f} s)`, the wait state carried by "
        "`custom_resource.wait_state`/`continuation_event`, and the final result passed through "
        "`custom_resource.decide`, which answers SUCCESS. The fake client reports RUNNING before T and SUCCEEDED "
        f"from T on. Function config from the synthesized template: {fn['memory_mb']} MB, {fn['architectures']}, "
        f"{fn['runtime']}. {results['gate'][0]['seeds']} seeds per T; latency is "
        "the worst and median, calls the median, invocations and GB-s the worst. GB-s = memory x the billed "
        "duration of every invocation (the virtual time it waited plus "
        f"{a['short_invocation_s']} s for init and answering, rounded up to 1 ms); a new invocation starts "
        f"{a['handoff_gap_s']} s after a hand-off. Describe calls take no virtual time on any side. "
        f"An invocation waits at most {fn['timeout_s'] - models['ours_handoff_margin_s']:.0f} s, so a long wait "
        f"costs {3600 / (fn['timeout_s'] - models['ours_handoff_margin_s']):.1f} invocations per hour; the "
        "invocation target counts whole invocations (ceil(5 x hours waited), at least 1), since prorated over a "
        "30 s wait even the single first invocation is 120 per hour.",
        "",
        "**crhelper** (model): with `poll_create`, the first invocation creates a `rate("
        f"{models['crhelper_polling_interval_s'] / 60:.0f} minutes)` EventBridge rule (crhelper's default "
        "`polling_interval`) and never answers itself, even for T=0; the rule first fires one interval after it "
        "was created, each firing is one invocation with one Describe, and the first poll at or after T answers. "
        "Latency is therefore between 0 and 120 s depending on where T falls in the rule's phase (the 0 s at "
        "T=1200 and T=3000 is that phase lining up with a multiple of 120 s; over a random phase it averages 60 s). "
        f"Invocations are billed {a['short_invocation_s']} s at {a['crhelper_memory_mb']} MB; scheduled rules are "
        "free.",
        "",
        "**Provider framework** (model, from aws-cdk-lib's `custom_resources.Provider` with an isComplete handler): "
        "framework-onEvent invokes the user's onEvent (2 invocations) and starts the waiter state machine, whose one "
        "Task invokes framework-isComplete, which invokes the user's isComplete (2 invocations per poll), retried "
        f"every queryInterval ({models['provider_query_interval_s']:.0f} s default, backoff 1); one state transition "
        "per poll (start and end of the execution not counted, which flatters the Provider). Its default "
        "totalTimeout (30 min) would fail T=3000, so it is modelled with 55 min. Latency 0-5 s depending on phase "
        f"(0 here because every T is a multiple of 5 s). Invocations billed {a['short_invocation_s']} s at "
        f"{a['provider_memory_mb']} MB.",
        "",
        "### Prices",
        "",
    ]
    out += [f"- {k.replace('_', ' ')}: {v}" for k, v in results["prices"].items()]
    out += [
        "",
        "Cost per gate = requests x $0.20/1M + GB-s x $0.0000133334 + transitions x $0.000025.",
        "",
        "## Reproduce",
        "",
        "`make bench` (full: N = 1, 10, 100; writes bench/results.json and bench/RESULTS.md) or "
        "`python -m bench.run --quick --out DIR` (N=1, one synth pair, 2 cold starts: the smoke test in "
        "tests/test_bench.py).",
        "",
    ]
    return "\n".join(out)
