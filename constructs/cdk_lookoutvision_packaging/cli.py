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
code (job, component); this module only parses arguments, builds the clients and reports.

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
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, NoReturn

from cdk_lookoutvision_packaging import _model
from cdk_lookoutvision_packaging_handler import component, contract, outbound
from cdk_lookoutvision_packaging_handler import job as jobs
from cdk_lookoutvision_packaging_handler.configuration import Packaging, check
from cdk_lookoutvision_packaging_handler.start import ensure_job
from cdk_lookoutvision_packaging_handler.waiting import POLL_INTERVAL_S

PROG = "python -m cdk_lookoutvision_packaging"
DISTRIBUTION = "cdk-lookoutvision-packaging"
USER_AGENT = "cdk-lookoutvision-packaging-cli/0.1"

EXIT_SUCCEEDED = 0
EXIT_FAILED = 1
EXIT_TIMEOUT = 2
EXIT_ERROR = 3
EXIT_INTERRUPTED = 130

# The in-stack gate's default wait, so that both gates give a job the same time unless told otherwise.
DEFAULT_TIMEOUT_S = float(contract.DEFAULT_WAIT_TIMEOUT_S)
# --interval N polls every N seconds ±20%, so that many pipelines waiting on one job do not poll in step.
INTERVAL_JITTER = 0.2
MIN_INTERVAL_S = 0.1
# `describe` retries throttling, 5xx and connection errors for at most this long before it reports the last error.
DESCRIBE_RETRY_BUDGET_S = 30.0
# `start` retries throttling, 5xx and connection errors for at most this long, then exits EXIT_TIMEOUT.
START_RETRY_BUDGET_S = 60.0
OUTPUT_FORMATS = ("json", "text")

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
# Hours, minutes, seconds: in that order, each at most once.
_UNITS = re.compile(rf"(?:(?P<h>{_NUMBER})h)?(?:(?P<m>{_NUMBER})m)?(?:(?P<s>{_NUMBER})s)?")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0}
DURATION_HELP = "a number with a unit (45m, 90s, 1h, 1h30m, 0.5s) or plain seconds (300)"
# The options that take a DURATION, for _attach_negative_values.
_DURATION_OPTIONS = ("--timeout", "--interval")
# How the CLI's messages name what the construct's messages call project_name, job_name and the stack's Region.
WORDING = outbound.Wording(
    "--project-name",
    "--job-name",
    "the Region (--region, AWS_REGION, AWS_DEFAULT_REGION or the profile)",
    "Raise --timeout or run wait again.",
    "--component-version",
)


class CliError(Exception):
    """An error that ends the command with EXIT_ERROR and a message on stderr."""


def version() -> str:
    """The installed distribution's version (importlib.metadata), as ``--version`` prints it."""
    import importlib.metadata

    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed from a distribution)"


# --- arguments -----------------------------------------------------------------------------------------------------


def parse_duration(text: str) -> float:
    """Seconds in ``text``: ``45m``, ``90s``, ``1h``, ``1h30m``, ``0.5s`` or plain seconds ``300``."""
    value = text.strip().lower()
    units = _UNITS.fullmatch(value)
    if re.fullmatch(_NUMBER, value):
        seconds = float(value)
    elif value and units:
        seconds = sum(float(number) * _UNIT_SECONDS[unit] for unit, number in units.groupdict().items() if number)
    elif value.startswith("-") and _is_duration(value[1:]):
        raise ValueError(f"{text!r} is negative: a duration must be 0 or more")
    elif re.fullmatch(rf"(?:{_NUMBER}[hms])+", value):
        raise ValueError(f"{text!r} is not a duration: write its units in the order h, m, s, each at most once")
    else:
        raise ValueError(f"{text!r} is not a duration: use {DURATION_HELP}")
    if not math.isfinite(seconds):
        raise ValueError(f"{text!r} is not a finite duration")
    return seconds


def _is_duration(text: str) -> bool:
    try:
        parse_duration(text)
    except ValueError:
        return False
    return True


def _attach_negative_values(argv: Sequence[str]) -> list[str]:
    """``--timeout -5s`` as ``--timeout=-5s``. argparse takes "-5s" for an option and would only say "expected one
    argument"; attached, the value reaches the duration check, which says what is wrong with it."""
    args = list(argv)
    for index in range(len(args) - 1, 0, -1):
        option, value = args[index - 1], args[index]
        # argparse also accepts an unambiguous prefix of an option (--time for --timeout).
        takes_duration = len(option) > 2 and any(name.startswith(option) for name in _DURATION_OPTIONS)
        if takes_duration and re.match(r"-\.?\d", value):
            args[index - 1 : index + 1] = [f"{option}={value}"]
    return args


def _timeout_arg(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _interval_arg(text: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if seconds < MIN_INTERVAL_S:
        raise argparse.ArgumentTypeError(f"{text!r} is too short: the interval must be at least {MIN_INTERVAL_S}s")
    return seconds


def _name_arg(rule: Any) -> Callable[[str], str]:
    def check(text: str) -> str:
        problem = rule.problem(text)
        if problem:
            raise argparse.ArgumentTypeError(str(problem))
        return text

    check.__name__ = str(rule.label)
    return check


def _output_arg(text: str) -> str:
    if text in OUTPUT_FORMATS:
        return text
    # Before --output was the format on every command, it was start's S3 location.
    moved = "; the S3 location is --s3-output-location" if text.lower().startswith("s3://") else ""
    raise argparse.ArgumentTypeError(f"{text!r} is not an output format: use json or text{moved}")


class _Deprecated(argparse.Action):
    """An old spelling of another option: stores into that option's dest and records the spelling, so that the
    command can warn once it runs (a warning printed while parsing would come before a usage error's)."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option: str | None = None
    ) -> None:
        setattr(namespace, self.dest, values)
        namespace.deprecated = [*getattr(namespace, "deprecated", []), option]


class _ArgumentParser(argparse.ArgumentParser):
    """argparse exits 2 on a usage error, but 2 means "timed out" here: bad arguments exit EXIT_ERROR.

    ``wait_only`` names the options (their dests) that mean something only with ``--wait``: given without it, they
    are a usage error instead of being ignored.
    """

    wait_only: tuple[str, ...] = ()

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, rest = super().parse_known_args(args, namespace)
        if self.wait_only and not getattr(parsed, "wait", False):
            for action in self._actions:
                if action.dest in self.wait_only and getattr(parsed, action.dest) != action.default:
                    self.error(
                        f"{action.option_strings[0]} goes with --wait: without --wait, start ends once the job is "
                        "started and waits for nothing"
                    )
        return parsed, rest


def build_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(
        prog=PROG,
        description="Wait for, describe or start an Amazon Lookout for Vision model packaging job (a pipeline gate).",
        epilog=(
            "Exit codes: 0 SUCCEEDED and the component version DEPLOYABLE (describe: described, whatever the status; "
            "start: started or adopted); 1 FAILED, SUCCEEDED without Greengrass output details, or the component "
            "version FAILED or DEPRECATED (the in-stack gate fails these too); 2 timed out, or a temporary problem "
            "outlasted the retries: run again later; 3 not found, access denied, bad arguments, a refused start or "
            "another error that retrying cannot fix; 130 interrupted. The endpoints can also come from "
            "AWS_ENDPOINT_URL_LOOKOUTVISION and AWS_ENDPOINT_URL_GREENGRASSV2."
        ),
    )
    parser.add_argument("--version", action="version", version=f"{DISTRIBUTION} {version()}")
    commands = parser.add_subparsers(dest="command", metavar="{wait,describe,start}", required=True)

    def common(command: argparse.ArgumentParser, *, job_required: bool = True) -> None:
        command.add_argument(
            "--project-name",
            required=True,
            type=_name_arg(contract.PROJECT_NAME_RULE),
            help="the Lookout for Vision project",
        )
        command.add_argument(
            "--job-name",
            required=job_required,
            type=_name_arg(contract.JOB_NAME_RULE),
            help="the model packaging job"
            + ("" if job_required else " (default: derived from the component name and version)"),
        )
        command.add_argument(
            "--region", help="the AWS Region (default: AWS_REGION, then AWS_DEFAULT_REGION, then the profile's)"
        )
        command.add_argument(
            "--endpoint-url", help="the Lookout for Vision endpoint (default: AWS_ENDPOINT_URL_LOOKOUTVISION or AWS's)"
        )
        command.add_argument(
            "--output",
            type=_output_arg,
            default="json",
            metavar="{json,text}",
            help="the format of stdout: one JSON object (default) or Key: value lines",
        )

    def waiting(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "--timeout",
            type=_timeout_arg,
            default=None,
            metavar="DURATION",
            help=f"how long to wait, for the job and then its component (default 45m); {DURATION_HELP}",
        )
        command.add_argument(
            "--interval",
            type=_interval_arg,
            default=None,
            metavar="DURATION",
            help=(
                # "%%": argparse %-formats help strings.
                f"poll every DURATION ±{INTERVAL_JITTER:.0%}% while the job is CREATED or RUNNING "
                f"(default {POLL_INTERVAL_S[0]:g}-{POLL_INTERVAL_S[1]:g}s)"
            ),
        )
        command.add_argument(
            "--no-component-check",
            dest="component_check",
            action="store_false",
            help=(
                "do not wait for the job's Greengrass component version to be DEPLOYABLE (for a caller that may not "
                "call greengrass:DescribeComponent; the in-stack gate still checks it)"
            ),
        )
        command.add_argument(
            "--greengrass-endpoint-url",
            help="the Greengrass V2 endpoint of the component check (default: AWS_ENDPOINT_URL_GREENGRASSV2 or AWS's)",
        )

    wait = commands.add_parser(
        "wait",
        help=(
            "wait until the job SUCCEEDED and its component version is DEPLOYABLE (exit 0), or FAILED (exit 1), or "
            "the timeout passed (exit 2)"
        ),
        description=(
            "Describe the job until it is SUCCEEDED or FAILED; then, unless --no-component-check, wait within the "
            "same timeout until its Greengrass component version is DEPLOYABLE. Progress on stderr, the result on "
            "stdout."
        ),
    )
    common(wait)
    waiting(wait)
    describe = commands.add_parser(
        "describe",
        help="describe the job once and print it (exit 0 whatever its status)",
        description=(
            "Describe the job once and print it. Exits 0 whatever the job's status when the call works, 3 when it "
            f"does not (throttling and transient errors are retried for up to {DESCRIBE_RETRY_BUDGET_S:g}s)."
        ),
    )
    common(describe)
    start = commands.add_parser(
        "start",
        help="start a model packaging job (or adopt the identical one); --wait waits for it",
        description=(
            "Start the job, or adopt an existing job of that name with the same configuration; a job of that name "
            "with another configuration is refused (exit 3). Prints JobName, ProjectName and Outcome (started or "
            "adopted). With --wait, waits like wait and prints its result."
        ),
    )
    assert isinstance(start, _ArgumentParser)
    common(start, job_required=False)
    start.add_argument(
        "--format",
        dest="output",
        type=_output_arg,
        action=_Deprecated,
        metavar="{json,text}",
        help="deprecated: use --output",
    )
    start.add_argument("--model-version", required=True, help="the model version to package: 3, or latest")
    start.add_argument("--component-name", required=True, help="the Greengrass component to create")
    start.add_argument(
        "--s3-output-location",
        required=True,
        metavar="S3_URL",
        help="where the job writes the component's artifacts: s3://bucket/prefix",
    )
    start.add_argument("--component-version", help="the component version (default: <model version>.0.0)")
    target = start.add_mutually_exclusive_group(required=True)
    target.add_argument("--target-device", help="the device to compile for: jetson_xavier")
    target.add_argument(
        "--target-platform", type=_platform_arg, help="the platform: linux/arm64, linux/x86_64, linux/x86_64/nvidia"
    )
    start.add_argument("--compiler-options", help='with --target-platform: a JSON object, such as {"mcpu": "..."}')
    start.add_argument("--component-description", help="the component's description")
    start.add_argument(
        "--component-tags",
        type=_tags_arg,
        metavar="JSON",
        help='tags of the component, a JSON object such as {"team": "vision"}',
    )
    start.add_argument("--description", help="the job's description")
    start.add_argument("--wait", action="store_true", help="then wait for the job, like wait")
    waiting(start)
    start.wait_only = ("timeout", "interval", "component_check", "greengrass_endpoint_url")
    return parser


def _platform_arg(text: str) -> dict[str, str]:
    parts = text.upper().split("/")
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] not in contract.TARGET_ACCELERATORS):
        raise argparse.ArgumentTypeError(f"{text!r} is not OS/ARCH or OS/ARCH/ACCELERATOR, such as linux/x86_64/nvidia")
    platform = {"Os": parts[0], "Arch": parts[1]}
    if len(parts) == 3:
        platform["Accelerator"] = parts[2]
    return platform


def _tags_arg(text: str) -> dict[str, str]:
    try:
        tags = json.loads(text)
    except ValueError:
        tags = None
    if not isinstance(tags, dict) or not all(isinstance(value, str) for value in tags.values()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a JSON object of tag names to strings")
    return tags


def packaging_from(args: argparse.Namespace) -> Packaging:
    """The packaging configuration the arguments describe, or a CliError naming every rule it breaks."""
    url = str(args.s3_output_location)
    if not url.startswith("s3://") or not url[5:].split("/", 1)[0]:
        raise CliError(f"--s3-output-location {url!r} must be an S3 URL such as s3://bucket/prefix/")
    bucket, _, prefix = url[5:].partition("/")
    greengrass: dict[str, Any] = {"ComponentName": args.component_name, "S3OutputLocation": {"Bucket": bucket}}
    if prefix:
        greengrass["S3OutputLocation"]["Prefix"] = prefix
    component_version = args.component_version or contract.default_component_version(str(args.model_version))
    if component_version:
        greengrass["ComponentVersion"] = component_version
    if args.target_device is not None:
        greengrass["TargetDevice"] = args.target_device
    if args.target_platform is not None:
        greengrass["TargetPlatform"] = args.target_platform
    if args.compiler_options is not None:
        greengrass["CompilerOptions"] = args.compiler_options
    if args.component_description is not None:
        greengrass["ComponentDescription"] = args.component_description
    if args.component_tags:
        # In the construct's order, so that the same configuration has the same client token, whoever starts it.
        greengrass["Tags"] = [{"Key": key, "Value": value} for key, value in sorted(args.component_tags.items())]
    packaging = Packaging(str(args.model_version), greengrass, args.description)
    problems = check(packaging)
    if problems:
        raise CliError("; ".join(problems))
    return packaging


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
            args = build_parser().parse_args(_attach_negative_values(sys.argv[1:] if argv is None else argv))
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
