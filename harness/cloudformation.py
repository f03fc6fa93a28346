"""The CloudFormation end of the custom resource: the events it sends and the ResponseURL that records the answers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cdk_lookoutvision_packaging_handler.contract import RESOURCE_TYPE
from harness.loopback import LoopbackServer, read_body, reply

STACK_ID = (
    "arn:aws:cloudformation:us-east-1:123456789012:stack/LookoutVisionModelGate/5b9cbb90-1a2b-11ef-9c4d-0a1b2c3d4e5f"
)
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:LookoutVisionModelGate-Handler-AbCdEf123456"


def properties(project: str = "pcb", job: str = "pcb-v3-x86", **extra: Any) -> dict[str, Any]:
    return {"ServiceToken": FUNCTION_ARN, "ProjectName": project, "JobName": job, **extra}


def make_event(
    request_type: str = "Create",
    response_url: str = "http://127.0.0.1:9/response",
    props: dict[str, Any] | None = None,
    physical_id: str | None = None,
    old_props: dict[str, Any] | None = None,
) -> dict[str, Any]:
    event = {
        "RequestType": request_type,
        "ServiceToken": FUNCTION_ARN,
        "ResponseURL": response_url,
        "StackId": STACK_ID,
        "RequestId": str(uuid.uuid4()),
        "LogicalResourceId": "ModelPackagingJob21DA863A",
        "ResourceType": RESOURCE_TYPE,
        "ResourceProperties": props if props is not None else properties(),
        "PhysicalResourceId": physical_id,
        "OldResourceProperties": old_props,
    }
    return {key: value for key, value in event.items() if value is not None}


class ResponseRecorder(LoopbackServer):
    """Records the PUTs a handler sends to its ResponseURL, each with its ``raw`` body, in ``requests``; ``attempts``
    counts the refused ones too. ``fail_first`` answers 500 that many times first; ``always_fail`` never accepts."""

    def __init__(self, fail_first: int = 0, always_fail: bool = False) -> None:
        super().__init__()
        self.attempts, self.fail_first, self.always_fail = 0, fail_first, always_fail
        # Shaped like a presigned S3 URL, so that log-hygiene checks have something real to look for.
        self.url += (
            "/cloudformation-custom-resource-response-useast1/arn%3Aaws%3Acloudformation%3Aus-east-1%3A123456789012"
            "%3Astack/LookoutVisionModelGate/x%7CJob%7Cid?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261129T160000Z"
            "&X-Amz-SignedHeaders=host&X-Amz-Expires=7200&X-Amz-Credential=AKIAEXAMPLE%2F20261129%2Fus-east-1%2Fs3%2F"
            "aws4_request&X-Amz-Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        )

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        raw = read_body(request)
        with self._lock:
            self.attempts += 1
            accepted = not (self.always_fail or self.attempts <= self.fail_first)
            if accepted:
                self._record(request, raw=raw)
        reply(request, 200 if accepted else 500)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(put["raw"]) for put in self.requests]


def leaked_lines(lines: Iterable[str], response_urls: Iterable[str]) -> list[str]:
    """The lines that show a ResponseURL (the whole of it, its path, its query or its signature), or the signing
    parameters of any presigned URL."""
    needles = {"X-Amz-Signature", "X-Amz-Credential"}
    for url in response_urls:
        _, _, path, query, _ = urlsplit(url)
        needles |= {url, path, unquote(path), query, *parse_qs(query).get("X-Amz-Signature", [])}
    return [line for line in lines if any(needle and needle in line for needle in needles)]
