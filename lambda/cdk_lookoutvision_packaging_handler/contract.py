"""What the construct, the handler and the CLI must agree on, written once: the resource type and its properties,
the function's environment, the Data keys, and the API's naming rules. Standard library only (imported at synth).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

RESOURCE_TYPE = "Custom::LookoutVisionModelPackagingJob"
# The one crhelper release the handler is written against and the asset carries (the construct bundles it).
CRHELPER_VERSION = "2.0.12"

# The services and the IAM actions the function's role needs: the construct grants exactly these.
LOOKOUTVISION_SERVICE = "lookoutvision"
GREENGRASS_SERVICE = "greengrassv2"
# DescribeModelPackagingJob supports no resource types: its statement must use Resource "*".
DESCRIBE_JOB_ACTION = "lookoutvision:DescribeModelPackagingJob"
START_JOB_ACTION = "lookoutvision:StartModelPackagingJob"
DESCRIBE_COMPONENT_ACTION = "greengrass:DescribeComponent"
CREATE_COMPONENT_ACTION = "greengrass:CreateComponentVersion"
TAG_COMPONENT_ACTION = "greengrass:TagResource"
INVOKE_ACTION = "lambda:InvokeFunction"
# The asset carries the service models (botocore dropped lookoutvision in 1.40.61) beside this package.
MODELS_DIR = "models"
HANDLER_FUNCTION = "index.handler"

PROJECT_NAME = "ProjectName"
JOB_NAME = "JobName"
WAIT_FOR_COMPLETION = "WaitForCompletion"
WAIT_TIMEOUT_SECONDS = "WaitTimeoutSeconds"
EXPECTED_COMPONENT_NAME = "ExpectedComponentName"
# With this property the resource starts the job itself: StartModelPackagingJob's ModelVersion, Description and
# Configuration, in the API's own shape ({"ModelVersion": "3", "Configuration": {"Greengrass": {...}}}).
PACKAGING = "Packaging"
PROPERTIES = (PROJECT_NAME, JOB_NAME, WAIT_FOR_COMPLETION, WAIT_TIMEOUT_SECONDS, EXPECTED_COMPONENT_NAME, PACKAGING)
# Properties CloudFormation adds itself.
SERVICE_TOKEN = "ServiceToken"  # noqa: S105 - a property name, not a secret
SERVICE_TIMEOUT = "ServiceTimeout"
CFN_PROPERTIES = frozenset({SERVICE_TOKEN, SERVICE_TIMEOUT})

DEFAULT_WAIT_TIMEOUT_S = 45 * 60
MIN_WAIT_TIMEOUT_S = 60
MAX_WAIT_TIMEOUT_S = 55 * 60
# CloudFormation's ServiceTimeout when a template sets none, and its upper bound.
MAX_SERVICE_TIMEOUT_S = 3600
# The construct sets ServiceTimeout this long after the wait timeout (so the handler answers first), or to
# NO_WAIT_SERVICE_TIMEOUT_S for a resource that does not wait.
SERVICE_TIMEOUT_AFTER_WAIT_S = 5 * 60
NO_WAIT_SERVICE_TIMEOUT_S = 5 * 60

# The polling budget all jobs of a stack share (requests per second), and how many jobs share it.
BUDGET_RPS_ENV = "DESCRIBE_BUDGET_RPS"
BUDGET_JOBS_ENV = "DESCRIBE_BUDGET_JOBS"
LOG_LEVEL_ENV = "LOG_LEVEL"
# Of the account's default quota of 5 Describe requests per second, leave one to everyone else.
DEFAULT_DESCRIBE_BUDGET_RPS = 4.0
DESCRIBE_BUDGET_RPS_RANGE = (0.01, 10_000.0)
MAX_BUDGET_JOBS = 10_000

# The custom resource's Data keys and the CLI's result keys, in the order they are documented.
DATA_KEYS = tuple(
    "ComponentVersionArn ComponentName ComponentVersion Status StatusMessage ModelVersion ProjectName JobName "
    "CreationTimestamp LastUpdatedTimestamp".split()
)
# What a SUCCEEDED job must have produced for Greengrass to deploy it.
OUTPUT_KEYS = ("ComponentVersionArn", "ComponentName", "ComponentVersion")


@dataclass(frozen=True)
class NameRule:
    """A naming rule of the API, applied as a full match."""

    label: str
    min_len: int
    max_len: int
    pattern: str
    hint: str

    def problem(self, value: object) -> str | None:
        if not isinstance(value, str):
            return f"{self.label} must be a string, got {type(value).__name__}"
        if not self.min_len <= len(value) <= self.max_len:
            return (
                f"{self.label} {show(value)} is {len(value)} characters long; "
                f"it must be {self.min_len}-{self.max_len} characters matching {self.pattern} ({self.hint})"
            )
        if not re.fullmatch(self.pattern, value):
            return f"{self.label} {show(value)} must match {self.pattern} ({self.hint})"
        return None


PROJECT_NAME_RULE = NameRule(
    "ProjectName",
    1,
    255,
    r"[a-zA-Z0-9][a-zA-Z0-9_\-]*",
    "letters, digits, '_' and '-', starting with a letter or digit",
)
JOB_NAME_RULE = NameRule("JobName", 1, 64, r"[a-zA-Z0-9-]+", "letters, digits and '-'")
COMPONENT_NAME_RULE = NameRule("ComponentName", 1, 128, r"[a-zA-Z0-9._-]+", "letters, digits, '-', '_' and '.'")


def show(value: object, limit: int = 80) -> str:
    if isinstance(value, str):
        return repr(value if len(value) <= limit else value[:limit] + "...")
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


MODEL_VERSION_RULE = NameRule("ModelVersion", 1, 10, r"[1-9][0-9]*|latest", "a model version such as 3, or latest")
COMPONENT_VERSION_RULE = NameRule(
    "ComponentVersion", 5, 64, r"[0-9]{1,6}\.[0-9]{1,6}\.[0-9]{1,6}", "major.minor.patch, each 1-6 digits"
)
DESCRIPTION_RULE = NameRule(
    "Description", 1, 256, r"[a-zA-Z0-9-_. ()':,;?]+", "letters, digits, spaces and - _ . ( ) ' : , ; ?"
)
BUCKET_RULE = NameRule("Bucket", 3, 63, r"[0-9A-Za-z.\-_]*", "an S3 bucket name")
PREFIX_RULE = NameRule(
    "Prefix", 1, 1024, r"[a-zA-Z0-9!_.*'()-][/a-zA-Z0-9!_.*'()-]*", "an S3 key prefix such as lookoutvision/pcb/"
)
TARGET_DEVICES = ("jetson_xavier",)
TARGET_OS = ("LINUX",)
TARGET_ARCHS = ("ARM64", "X86_64")
TARGET_ACCELERATORS = ("NVIDIA",)
# Compiling for an NVIDIA accelerator needs these compiler options (Lookout for Vision's "Compiler options").
NVIDIA_COMPILER_OPTIONS = ("gpu-code", "trt-ver", "cuda-ver")
COMPILER_OPTIONS_CHARS = (3, 1024)
MAX_TAGS = 200
TAG_KEY_CHARS = (1, 128)
TAG_VALUE_CHARS = (0, 256)
_TAG_PUNCTUATION = frozenset("_.:/=+-@")


def tag_problem(key: object, value: object) -> str | None:
    """Why a component tag breaks the service's rules (letters, digits, spaces and _ . : / = + - @), or None."""
    for what, text, (low, high) in (("key", key, TAG_KEY_CHARS), ("value", value, TAG_VALUE_CHARS)):
        if not isinstance(text, str):
            return f"tag {what} must be a string, got {type(text).__name__}"
        if not low <= len(text) <= high:
            return f"tag {what} {show(text)} is {len(text)} characters long; it must be {low}-{high}"
        if bad := [c for c in text if not (c in _TAG_PUNCTUATION or unicodedata.category(c)[0] in "LZN")]:
            return f"tag {what} {show(text)} has {bad[0]!r}; use letters, digits, spaces and _ . : / = + - @"
    if isinstance(key, str) and key.lower().startswith("aws:"):
        return f"tag key {show(key)} starts with aws:, which AWS reserves"
    return None


def default_component_version(model_version: str) -> str | None:
    """The component version the service gives a job that names none: <model version>.0.0 (None for latest)."""
    return f"{model_version}.0.0" if model_version.isdigit() else None


def default_job_name(component_name: str, component_version: str) -> str:
    """The job name a started job gets when none is given: always a valid JobName, distinct for distinct pairs."""
    digest = hashlib.sha256(f"{component_name}\n{component_version}".encode()).hexdigest()[:8]
    readable = re.sub(r"[^a-zA-Z0-9]+", "-", f"{component_name}-{component_version}").strip("-")
    return f"{readable[: 64 - len(digest) - 1].rstrip('-')}-{digest}"
