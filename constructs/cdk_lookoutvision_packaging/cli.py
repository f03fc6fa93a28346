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
code (job, component); the CLI's own modules (_cli_parser, _cli_clients, _cli_report, _cli_commands) only parse
arguments, build the clients and report.

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

import sys
from collections.abc import Sequence

from cdk_lookoutvision_packaging._cli_commands import run_describe, run_start, run_wait
from cdk_lookoutvision_packaging._cli_parser import (
    EXIT_ERROR,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_SUCCEEDED,
    EXIT_TIMEOUT,
    WORDING,
    CliError,
    attach_negative_values,
    build_parser,
    parse_duration,
)

# The names callers use from this module; the rest lives in the _cli_* modules beside it.
__all__ = [
    "EXIT_ERROR",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_SUCCEEDED",
    "EXIT_TIMEOUT",
    "WORDING",
    "CliError",
    "build_parser",
    "main",
    "parse_duration",
]


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
