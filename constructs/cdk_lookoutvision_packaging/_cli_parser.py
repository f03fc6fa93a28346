"""The CLI's command line: its constants, argument types and parser, and the Packaging built from the arguments."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from cdk_lookoutvision_packaging_handler import contract, outbound
from cdk_lookoutvision_packaging_handler.configuration import Packaging, check
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
# The options that take a DURATION, for attach_negative_values.
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


def attach_negative_values(argv: Sequence[str]) -> list[str]:
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
    _add_start_options(start)
    waiting(start)
    start.wait_only = ("timeout", "interval", "component_check", "greengrass_endpoint_url")
    return parser


def _add_start_options(start: argparse.ArgumentParser) -> None:
    """Add start's own options in the order --help lists them: what to package, its target, then the rest."""
    package: tuple[tuple[str, dict[str, Any]], ...] = (
        ("--model-version", {"required": True, "help": "the model version to package: 3, or latest"}),
        ("--component-name", {"required": True, "help": "the Greengrass component to create"}),
        (
            "--s3-output-location",
            {
                "required": True,
                "metavar": "S3_URL",
                "help": "where the job writes the component's artifacts: s3://bucket/prefix",
            },
        ),
        ("--component-version", {"help": "the component version (default: <model version>.0.0)"}),
    )
    rest: tuple[tuple[str, dict[str, Any]], ...] = (
        ("--compiler-options", {"help": 'with --target-platform: a JSON object, such as {"mcpu": "..."}'}),
        ("--component-description", {"help": "the component's description"}),
        (
            "--component-tags",
            {
                "type": _tags_arg,
                "metavar": "JSON",
                "help": 'tags of the component, a JSON object such as {"team": "vision"}',
            },
        ),
        ("--description", {"help": "the job's description"}),
        ("--wait", {"action": "store_true", "help": "then wait for the job, like wait"}),
    )
    for flag, settings in package:
        start.add_argument(flag, **settings)
    target = start.add_mutually_exclusive_group(required=True)
    target.add_argument("--target-device", help="the device to compile for: jetson_xavier")
    target.add_argument(
        "--target-platform", type=_platform_arg, help="the platform: linux/arm64, linux/x86_64, linux/x86_64/nvidia"
    )
    for flag, settings in rest:
        start.add_argument(flag, **settings)


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
