"""Pipeline gate CLI: wait for, describe or start an Amazon Lookout for Vision model packaging job.

    python -m cdk_lookoutvision_packaging wait     --project-name P --job-name J [--timeout 45m] [--interval 5s]
                                                   [--no-component-check] [--greengrass-endpoint-url URL]
                                                   [--region R] [--endpoint-url URL] [--output json|text]
    python -m cdk_lookoutvision_packaging describe --project-name P --job-name J
                                                   [--region R] [--endpoint-url URL] [--output json|text]
    python -m cdk_lookoutvision_packaging start    --project-name P --model-version 3 --component-name N
                                                   --s3-output-location s3://bucket/prefix [--component-version 3.0.0]
                                                   [--target-device jetson_xavier | --target-platform
                                                   linux/x86_64[/nvidia] [--compiler-options JSON]]
                                                   [--component-description TEXT] [--component-tags JSON]
                                                   [--description TEXT]
                                                   [--job-name J] [--wait [--timeout 45m] [--interval 5s]
                                                   [--no-component-check] [--greengrass-endpoint-url URL]]
                                                   [--region R] [--endpoint-url URL] [--output json|text]
    python -m cdk_lookoutvision_packaging --version

``--output`` is the format of stdout on every command, as in the AWS CLI (``--format`` is a deprecated alias of it
on ``start``, whose S3 location is ``--s3-output-location``).

``wait`` describes the job until it is SUCCEEDED or FAILED. A job that SUCCEEDED must name its Greengrass component
version, and (unless ``--no-component-check``) ``wait`` then waits, within the same ``--timeout``, until Greengrass
says that version is DEPLOYABLE, as the in-stack gate does (component.wait_deployable, on a greengrassv2 client made
like the lookoutvision one: same Region; the endpoint from ``--greengrass-endpoint-url`` or
AWS_ENDPOINT_URL_GREENGRASSV2).

``start`` starts the job through the handler's own code (start.ensure_job: the same client token, the adoption
of an existing job with the same configuration, the refusal of one with another) and prints JobName, ProjectName and
Outcome (started or adopted); each retry of a throttled or failing call is reported on stderr. With ``--wait`` it
then waits like ``wait`` (the result on stdout) with its exit codes; without ``--wait`` the options of waiting are
refused.

Progress (each status change with the elapsed time, and every retry) goes to stderr; the result goes to stdout with
the custom resource's Data keys (contract.DATA_KEYS). Describing, classifying and waiting are the handler's own
code (job, component); this module only builds the clients and reports, on arguments that _cli_arguments parses.

Exit codes:

- 0: ``wait``: the job SUCCEEDED and its component version is DEPLOYABLE. ``describe``: the job was described,
  whatever its status. ``start``: the job was started or adopted.
- 1: ``wait``: the job FAILED (its StatusMessage is on stderr), it SUCCEEDED without Greengrass output details (no
  component to deploy; job.has_greengrass_output), or its component version is FAILED or DEPRECATED:
  what the in-stack gate fails too.
- 2: temporary. ``wait``: the timeout passed while the job was still CREATED or RUNNING, or its component version
  not yet DEPLOYABLE (or the API kept failing transiently). ``start``: it gave up on throttling, 5xx or connection
  errors. Run it again later.
- 3: the job or project was not found, access was denied, an argument was bad, the service refused the start, or any
  other error that retrying cannot fix; the message is on stderr.
- 130: interrupted (Ctrl-C).

The Region comes from --region, then AWS_REGION, then AWS_DEFAULT_REGION, then the profile, as with the AWS CLI v2.
``--output text`` prints one ``Key: value`` line per key; whitespace in a value (a multi-line StatusMessage) is
collapsed to single spaces so that every key keeps one line (``--output json`` keeps values exactly).

This module imports neither aws_cdk nor boto3: it needs only botocore, and it carries the lookoutvision service model
(botocore dropped it in 1.40.61) the same way as the Lambda asset, so it runs with the newest botocore.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from cdk_lookoutvision_packaging import _model
from cdk_lookoutvision_packaging._cli_arguments import (
    DEFAULT_TIMEOUT_S,
    DESCRIBE_RETRY_BUDGET_S,
    EXIT_ERROR,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_SUCCEEDED,
    EXIT_TIMEOUT,
    INTERVAL_JITTER,
    START_RETRY_BUDGET_S,
    USER_AGENT,
    CliError,
    attach_negative_values,
    build_parser,
    packaging_from,
    parse_duration,
)
from cdk_lookoutvision_packaging_handler import component, contract, outbound
from cdk_lookoutvision_packaging_handler import job as jobs
from cdk_lookoutvision_packaging_handler.start import ensure_job
from cdk_lookoutvision_packaging_handler.waiting import POLL_INTERVAL_S

# The exit codes and the duration syntax are part of what the CLI module offers its callers.
__all__ = ["EXIT_ERROR", "EXIT_FAILED", "EXIT_SUCCEEDED", "EXIT_TIMEOUT", "WORDING", "main", "parse_duration"]

# How the CLI's messages name what the construct's messages call project_name, job_name and the stack's Region.
WORDING = outbound.Wording(
    "--project-name",
    "--job-name",
    "the Region (--region, AWS_REGION, AWS_DEFAULT_REGION or the profile)",
    "Raise --timeout or run wait again.",
    "--component-version",
)


# --- client --------------------------------------------------------------------------------------------------------


def make_client(region: str | None, endpoint_url: str | None) -> Any:
    """A botocore lookoutvision client that knows the service with any botocore release.

    The package's service model goes first on the session's data path (after it, AWS_DATA_PATH and botocore's own
    data), as the Lambda asset does. Calls fail fast, like the handler's client: wait_for_job owns retries.
    AWS_ENDPOINT_URL_LOOKOUTVISION is honoured by botocore; ``endpoint_url`` overrides it. Without ``region``,
    AWS_REGION comes first, as in the AWS CLI v2: botocore itself reads only AWS_DEFAULT_REGION and the profile.
    """
    import botocore.session
    from botocore.exceptions import BotoCoreError, NoRegionError, UnknownServiceError

    session = botocore.session.get_session()
    missing_model = ""
    try:
        model_path = str(_model.data_path())
    except FileNotFoundError as error:
        missing_model = str(error)
    else:
        existing = session.get_config_variable("data_path") or ""
        session.set_config_variable("data_path", os.pathsep.join(p for p in (model_path, existing) if p))
    try:
        return session.create_client(
            contract.LOOKOUTVISION_SERVICE,
            region_name=region or os.environ.get("AWS_REGION") or None,
            endpoint_url=endpoint_url or None,
            config=outbound.client_config(user_agent_extra=USER_AGENT),
        )
    except UnknownServiceError:
        raise CliError(
            missing_model or "this botocore has no lookoutvision service model and none was found on AWS_DATA_PATH"
        ) from None
    except NoRegionError:
        raise CliError(
            "no AWS Region: pass --region, set AWS_REGION or AWS_DEFAULT_REGION, or set a region in the profile"
        ) from None
    except (BotoCoreError, ValueError) as error:
        raise CliError(f"cannot create the Lookout for Vision client: {error}") from None


def make_greengrass_client(region: str, endpoint_url: str | None) -> Any:
    """The greengrassv2 client of the component check, made like the lookoutvision one: the same Region (the one
    that client resolved), calls that fail fast (wait_deployable owns retries), AWS_ENDPOINT_URL_GREENGRASSV2 honoured
    by botocore and ``endpoint_url`` (--greengrass-endpoint-url) over it."""
    import botocore.session
    from botocore.exceptions import BotoCoreError

    try:
        return botocore.session.get_session().create_client(
            contract.GREENGRASS_SERVICE,
            region_name=region or None,
            endpoint_url=endpoint_url or None,
            config=outbound.client_config(user_agent_extra=USER_AGENT),
        )
    except (BotoCoreError, ValueError) as error:
        raise CliError(f"cannot create the Greengrass V2 client: {error}") from None


# --- reporting -----------------------------------------------------------------------------------------------------


def format_elapsed(seconds: float) -> str:
    """``4.2s``, ``2m05s`` or ``1h02m05s``."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def format_duration(seconds: float) -> str:
    """A duration as the options take it: ``45m``, ``1h30m``, ``90s`` is ``1m30s``, ``0.2s``."""
    if seconds < 60 or seconds != int(seconds):
        return f"{seconds:g}s"
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s" if secs else ""]
    return "".join(parts)


def format_result(attributes: dict[str, str], output: str) -> str:
    if output == "json":
        return json.dumps(attributes)
    return "\n".join(f"{key}: {outbound.one_line(value)}".rstrip() for key, value in attributes.items())


@dataclass
class Progress:
    """Reports status changes and retries on stderr, each with the time elapsed since the wait began."""

    job: str
    stream: IO[str]
    now: Callable[[], float]
    start: float
    deadline: float = math.inf
    retries: int = 0
    retries_reported: int = field(default=0, repr=False)

    def elapsed(self) -> str:
        return format_elapsed(self.now() - self.start)

    def line(self, text: str) -> None:
        print(f"[{self.elapsed():>8}] {text}", file=self.stream, flush=True)

    def on_status(self, status: str, description: dict[str, Any]) -> None:
        text = f"{self.job}: {status or '(no status)'}"
        message = outbound.one_line(str(description.get("StatusMessage") or ""))
        if message:
            text += f" - {message}"
        if self.retries > self.retries_reported:
            text += f" ({self.retries} {'retry' if self.retries == 1 else 'retries'} so far)"
            self.retries_reported = self.retries
        self.line(text)

    def on_retry(self, problem: Any, delay: float) -> None:
        # wait_for_job reports a failure before it looks at its deadline, and its sleeps never pass the deadline:
        # announce the retry that will really happen, or none.
        remaining = self.deadline - self.now()
        if remaining <= 0:
            self.line(f"{self.job}: {problem.message}; no time left to retry")
            return
        self.retries += 1
        self.line(f"{self.job}: {problem.message}; retry {self.retries} in {min(delay, remaining):.1f}s")


# --- commands ------------------------------------------------------------------------------------------------------


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

    def wait(self, *, wait: bool, **extra: Any) -> jobs.WaitResult:
        return jobs.wait_for_job(
            self.client,
            jobs.describe_call(self.project, self.job, self.region, WORDING),
            self.project,
            self.job,
            deadline=self.progress.deadline,
            wait=wait,
            clock=self.clock,
            on_status=self.progress.on_status if wait else None,
            on_retry=self.progress.on_retry,
            **extra,
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
    calls = f"{result.api_calls} {'call' if result.api_calls == 1 else 'calls'}"
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
        deadline=progress.deadline,
        yield_at=None,
        clock=look.clock,
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
    last = f"last state {checked.state or 'not described'}"
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
        clock=clock,
        give_up_at=clock.now() + START_RETRY_BUDGET_S,
        region=region,
        wording=WORDING,
        on_retry=progress.on_retry,
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (see the module docstring)."""
    out, err = sys.stdout, sys.stderr
    try:
        try:
            args = build_parser().parse_args(attach_negative_values(sys.argv[1:] if argv is None else argv))
        except SystemExit as stop:  # --help and --version (0) and usage errors (EXIT_ERROR)
            return stop.code if isinstance(stop.code, int) else (EXIT_SUCCEEDED if stop.code is None else EXIT_ERROR)
        for option in getattr(args, "deprecated", []):
            print(f"warning: {option} is deprecated: use --output", file=err, flush=True)
        run = {"wait": run_wait, "describe": run_describe, "start": run_start}[args.command]
        return run(args, out, err)
    except CliError as error:
        print(f"error: {error}", file=err, flush=True)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("\nInterrupted.", file=err, flush=True)
        return EXIT_INTERRUPTED
