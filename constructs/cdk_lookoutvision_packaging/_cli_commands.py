"""The CLI's commands start, wait and describe, each returning its exit code."""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import IO, Any

from cdk_lookoutvision_packaging._cli_clients import make_client, make_greengrass_client
from cdk_lookoutvision_packaging._cli_parser import (
    DEFAULT_TIMEOUT_S,
    DESCRIBE_RETRY_BUDGET_S,
    EXIT_ERROR,
    EXIT_FAILED,
    EXIT_SUCCEEDED,
    EXIT_TIMEOUT,
    INTERVAL_JITTER,
    START_RETRY_BUDGET_S,
    WORDING,
    packaging_from,
)
from cdk_lookoutvision_packaging._cli_report import Progress, format_duration, format_elapsed, format_result
from cdk_lookoutvision_packaging_handler import component, contract, outbound, waiting
from cdk_lookoutvision_packaging_handler import job as jobs
from cdk_lookoutvision_packaging_handler.start import ensure_job
from cdk_lookoutvision_packaging_handler.waiting import POLL_INTERVAL_S


@dataclass
class _Look:
    """One command's view of the job: its client and Region, and the progress of its looks on stderr."""

    project: str
    job: str
    client: Any
    region: str
    clock: outbound.Clock
    progress: Progress

    @classmethod
    def begin(cls, args: argparse.Namespace, err: IO[str], budget_s: float, client: Any = None) -> _Look:
        project, job = str(args.project_name), str(args.job_name)
        client = client or make_client(args.region, args.endpoint_url)
        clock = outbound.Clock(now=time.monotonic)
        start = clock.now()
        progress = Progress(f"{project}/{job}", err, clock.now, start, start + budget_s)
        return cls(project, job, client, str(client.meta.region_name or ""), clock, progress)

    def wait(self, *, wait: bool, **extra: Any) -> waiting.Waited:
        schedule = waiting.Schedule(self.progress.deadline, self.clock, on_retry=self.progress.on_retry, **extra)
        return jobs.wait_for_job(
            self.client,
            jobs.describe_call(self.project, self.job, self.region, WORDING),
            self.project,
            self.job,
            schedule,
            wait=wait,
            on_status=self.progress.on_status if wait else None,
        )


def run_wait(args: argparse.Namespace, out: IO[str], err: IO[str], client: Any = None) -> int:
    timeout = DEFAULT_TIMEOUT_S if args.timeout is None else float(args.timeout)
    look = _Look.begin(args, err, timeout, client)
    project, job, region, clock, start = look.project, look.job, look.region, look.clock, look.progress.start
    interval: float | None = args.interval
    extra: dict[str, Any] = {}
    if interval is None:
        polling = f"{POLL_INTERVAL_S[0]:g}-{POLL_INTERVAL_S[1]:g}s"
    else:
        extra["interval"] = (interval * (1 - INTERVAL_JITTER), interval * (1 + INTERVAL_JITTER))
        polling = f"{format_duration(interval)} ±{INTERVAL_JITTER:.0%}"
    print(
        f"Waiting up to {format_duration(timeout)} for model packaging job {project}/{job}"
        f"{f' in {region}' if region else ''} (polling every {polling})",
        file=err,
        flush=True,
    )
    result = look.wait(wait=True, **extra)
    elapsed = format_elapsed(clock.now() - start)
    calls = f"{result.calls} {'call' if result.calls == 1 else 'calls'}"
    outcome = str(result.outcome)
    if outcome == "error":
        problem = result.problem
        message = problem.message if problem else "the wait ended with an error"
        print(f"error: {message}", file=err, flush=True)
        return EXIT_ERROR

    attributes = jobs.to_attributes(result.description or {}, project, job)
    if outcome == "succeeded" and jobs.has_greengrass_output(attributes):
        print(f"{project}/{job} SUCCEEDED after {elapsed} ({calls})", file=err, flush=True)
        code = EXIT_SUCCEEDED
        if args.component_check:
            code = _wait_deployable(args, look, attributes["ComponentVersionArn"])
        print(format_result(attributes, args.output), file=out, flush=True)
        return code
    if result.description is not None:
        print(format_result(attributes, args.output), file=out, flush=True)
    if outcome == "succeeded":
        # The in-stack gate answers FAILED here: the job left no component to deploy.
        print(jobs.no_output_reason(project, job), file=err, flush=True)
        return EXIT_FAILED
    if outcome == "failed":
        print(jobs.failed_reason(project, job, attributes["StatusMessage"]), file=err, flush=True)
        return EXIT_FAILED
    # "timeout": the deadline passed. ("not_ready" and "yield" cannot happen with wait=True and no yield_at.)
    waited = f"{elapsed} ({calls})"
    what, last = f"model packaging job {project}/{job}", f"last status {result.status or 'unknown'}"
    text = jobs.timeout_reason(what, last, 0.0, result.last_error, waited=waited, remedy=WORDING.timeout_remedy)
    print(text, file=err, flush=True)
    return EXIT_TIMEOUT


def _wait_deployable(args: argparse.Namespace, look: _Look, arn: str) -> int:
    """The in-stack gate's last check: wait, within what is left of the timeout, until Greengrass says the component
    version ``arn`` is DEPLOYABLE; a deployment made before would fail on the devices."""
    progress = look.progress
    err = progress.stream
    greengrass = make_greengrass_client(look.region, args.greengrass_endpoint_url)
    print(f"Waiting for Greengrass component {arn} to be {component.DEPLOYABLE}", file=err, flush=True)

    def on_state(state: str) -> None:
        progress.line(f"{arn}: {state or '(no state)'}")

    checked = component.wait_deployable(
        greengrass,
        arn,
        waiting.Schedule(progress.deadline, look.clock),
        call=component.describe_call(arn, look.region, WORDING),
        on_state=on_state,
    )
    outcome = str(checked.outcome)
    if outcome == "deployable":
        calls = f"{checked.calls} {'call' if checked.calls == 1 else 'calls'}"
        print(f"{arn} is {component.DEPLOYABLE} after {progress.elapsed()} ({calls})", file=err, flush=True)
        return EXIT_SUCCEEDED
    if outcome == "failed":
        print(checked.reason, file=err, flush=True)
        return EXIT_FAILED
    if outcome == "error":
        print(f"error: {checked.reason}; --no-component-check skips this check", file=err, flush=True)
        return EXIT_ERROR
    # "timeout" ("yield" cannot happen without yield_at).
    calls = f"{checked.calls} {'call' if checked.calls == 1 else 'calls'}"
    last = f"last state {checked.status or 'not described'}"
    what, waited = component.timeout_what(arn), f"{progress.elapsed()} ({calls})"
    print(
        jobs.timeout_reason(what, last, 0.0, checked.last_error, waited=waited, remedy=WORDING.timeout_remedy), file=err
    )
    return EXIT_TIMEOUT


def run_start(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    packaging = packaging_from(args)
    project = str(args.project_name)
    job = args.job_name or contract.default_job_name(packaging.component_name, str(packaging.component_version))
    client = make_client(args.region, args.endpoint_url)
    region = str(client.meta.region_name or "")
    clock = outbound.Clock(now=time.monotonic)
    progress = Progress(f"{project}/{job}", err, clock.now, clock.now())
    started = ensure_job(
        client,
        project,
        job,
        packaging,
        waiting.Schedule(clock.now() + START_RETRY_BUDGET_S, clock, on_retry=progress.on_retry),
        region=region,
        wording=WORDING,
    )
    if started.outcome == "refused":
        if started.temporary:
            retries = f"{progress.retries} {'retry' if progress.retries == 1 else 'retries'}"
            print(
                f"error: {started.reason} (a temporary problem, still there after {retries} in {progress.elapsed()}): "
                "run start again later; the same configuration never starts a second job",
                file=err,
                flush=True,
            )
            return EXIT_TIMEOUT
        print(f"error: {started.reason}", file=err, flush=True)
        return EXIT_ERROR
    verb = "Started" if started.outcome == "started" else "Adopted the existing"
    print(f"{verb} model packaging job {project}/{job}", file=err, flush=True)
    if not args.wait:
        result = {"JobName": job, "ProjectName": project, "Outcome": str(started.outcome)}
        print(format_result(result, args.output), file=out, flush=True)
        return EXIT_SUCCEEDED
    args.job_name = job
    return run_wait(args, out, err, client=client)


def run_describe(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    look = _Look.begin(args, err, DESCRIBE_RETRY_BUDGET_S)
    project, job = look.project, look.job
    result = look.wait(wait=False)
    if result.description is not None and str(result.outcome) in ("succeeded", "failed", "not_ready"):
        print(
            format_result(jobs.to_attributes(result.description or {}, project, job), args.output), file=out, flush=True
        )
        return EXIT_SUCCEEDED
    if result.problem is not None:
        message = result.problem.message
    else:
        message = f"could not describe {project}/{job} within {DESCRIBE_RETRY_BUDGET_S:g}s: {result.last_error}"
    print(f"error: {message}", file=err, flush=True)
    return EXIT_ERROR
