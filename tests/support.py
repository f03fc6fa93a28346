"""The tests' doubles: a Lambda context with a real deadline and the errors botocore raises; and harness/ (events, the
ResponseURL, the fake Lookout for Vision and Greengrass APIs)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from harness.cloudformation import *  # noqa: F403
from harness.cloudformation import FUNCTION_ARN
from harness.lookoutvision import *  # noqa: F403
from harness.loopback import *  # noqa: F403
from harness.offline import *  # noqa: F403

# What CloudFormation must receive, as the tests' own expectation (the Data keys: tests/unit/test_contract.py).
EXPECTED_BODY_KEYS = frozenset(
    "Status Reason PhysicalResourceId StackId RequestId LogicalResourceId NoEcho Data".split()
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


def client_error(code: str, status: int, message: str = "something went wrong", **response: Any) -> Any:
    """What botocore raises for a DescribeModelPackagingJob answered ``status``, ``code``, ``response``'s fields."""
    metadata = {"HTTPStatusCode": status, "HTTPHeaders": response.pop("HTTPHeaders", {})}
    body = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": metadata, **response}
    return ClientError(body, "DescribeModelPackagingJob")
