"""The tests' doubles: a Lambda context with a real deadline, scripted Lookout for Vision and Greengrass clients and
the errors they raise; and harness/ (events, the ResponseURL, the loopback Lookout for Vision and Greengrass APIs)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from harness.clock import VirtualClock as VirtualClock
from harness.cloudformation import *  # noqa: F403
from harness.cloudformation import FUNCTION_ARN
from harness.lookoutvision import *  # noqa: F403
from harness.lookoutvision import Step, error, next_step
from harness.loopback import *  # noqa: F403
from harness.offline import *  # noqa: F403

# What CloudFormation must receive, written out here once as the tests' own expectation (not read from the product).
EXPECTED_BODY_KEYS = frozenset(
    "Status Reason PhysicalResourceId StackId RequestId LogicalResourceId NoEcho Data".split()
)
EXPECTED_DATA_KEYS = frozenset(
    "ComponentVersionArn ComponentName ComponentVersion Status StatusMessage ModelVersion ProjectName JobName "
    "CreationTimestamp LastUpdatedTimestamp".split()
)

ROOT = Path(__file__).resolve().parents[1]


class FakeContext:
    """The parts of the Lambda context the handler reads, with a deadline that really runs out."""

    def __init__(self, timeout_s: float = 900.0, function_arn: str = FUNCTION_ARN) -> None:
        self._deadline = time.monotonic() + timeout_s
        self.invoked_function_arn, self.function_name = function_arn, function_arn.rsplit(":", 1)[-1]
        self.aws_request_id, self.log_stream_name = str(uuid.uuid4()), "2026/11/29/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class ScriptedClient:
    """Answers describe_model_packaging_job on a VirtualClock from a script of steps, the last one repeating: a
    description, an exception to raise, or a callable given the virtual time (how a job changes status at a moment).
    start_model_packaging_job records each request and answers with ``start``: an exception to raise, a callable's
    answer, or by default the job's name."""

    def __init__(self, vclock: VirtualClock, steps: list[Any], start: Any = None) -> None:
        self.vclock, self.steps, self.start = vclock, list(steps), start
        self.calls: list[float] = []
        self.params: list[dict[str, str]] = []
        self.starts: list[dict[str, Any]] = []

    def describe_model_packaging_job(self, **params: str) -> dict[str, Any]:
        self.calls.append(self.vclock.now())
        self.params.append(params)
        step = next_step(self.steps)
        if isinstance(step, BaseException):
            raise step
        return {"ModelPackagingDescription": step(self.vclock.now()) if callable(step) else step}

    def start_model_packaging_job(self, **request: Any) -> Any:
        self.starts.append(request)
        if isinstance(self.start, BaseException):
            raise self.start
        return self.start() if callable(self.start) else {"JobName": request["JobName"]}


class ScriptedGreengrass:
    """Answers describe_component with the next state of a script (the last one repeating), or raises it; a callable
    step is asked for the state when the call comes (one that blocks plays a call that hangs)."""

    def __init__(self, *states: Any) -> None:
        self.states: list[Any] = list(states)
        self.arns: list[str] = []

    def describe_component(self, arn: str) -> dict[str, Any]:
        self.arns.append(arn)
        state = next_step(self.states)
        if isinstance(state, BaseException):
            raise state
        return {"arn": arn, "status": {"componentState": state() if callable(state) else state}}


def client_error(code: str, status: int, message: str = "something went wrong", **response: Any) -> Any:
    """What botocore raises for a DescribeModelPackagingJob answered ``status``, ``code``, ``response``'s fields."""
    metadata = {"HTTPStatusCode": status, "HTTPHeaders": response.pop("HTTPHeaders", {})}
    body = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": metadata, **response}
    return ClientError(body, "DescribeModelPackagingJob")


def answered_with(client_error: Any) -> Step:
    """The FakeLookoutVision step whose answer botocore raises as ``client_error`` (its status, code and message)."""
    status, problem = client_error.response["ResponseMetadata"]["HTTPStatusCode"], client_error.response["Error"]
    return error(status, problem["Code"], problem["Message"])
