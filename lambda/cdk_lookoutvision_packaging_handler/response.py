"""The answer to CloudFormation: its body, with a Reason on one printable line, cut to fit 4096 bytes."""

from __future__ import annotations

import bisect
import json
import unicodedata
from collections.abc import Mapping
from typing import Any

from .outbound import one_line

SUCCESS = "SUCCESS"
FAILED = "FAILED"
REQUEST_TYPES = frozenset({"Create", "Update", "Delete"})

MAX_RESPONSE_BYTES = 4096
MAX_REASON_CHARS = 1000
_TRUNCATED = " ...(truncated)"


def fallback_physical_id(event: Mapping[str, Any]) -> str:
    """The physical id CloudFormation sent, or a stable stand-in."""
    existing = event.get("PhysicalResourceId")
    if isinstance(existing, str) and existing:
        return existing
    logical = event.get("LogicalResourceId")
    return f"{logical if isinstance(logical, str) and logical else 'resource'}-{str(event.get('RequestId'))[:8]}"


def build_response(
    event: Mapping[str, Any], status: str, reason: str, physical_id: str, data: Mapping[str, str]
) -> dict[str, Any]:
    ids = {key: event.get(key) for key in ("StackId", "RequestId", "LogicalResourceId")}
    return {
        "Status": status,
        "Reason": one_line("".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in reason)),
        "PhysicalResourceId": physical_id,
        **{key: "" if value is None else str(value) for key, value in ids.items()},
        "NoEcho": False,
        "Data": dict(data),
    }


def _encode(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def encode_response(body: dict[str, Any], limit: int = MAX_RESPONSE_BYTES) -> bytes:
    """The body within ``limit``: cut the Reason to MAX_REASON_CHARS, then shorten Data.StatusMessage, then the Reason;
    if it still does not fit (absurd identifiers), answer FAILED without Data rather than not at all."""
    body = {**body, "Data": dict(body.get("Data") or {})}
    if len(body["Reason"]) > MAX_REASON_CHARS:
        body["Reason"] = body["Reason"][: MAX_REASON_CHARS - len(_TRUNCATED)] + _TRUNCATED
    encoded = _encode(body)
    for holder, key in ((body["Data"], "StatusMessage"), (body, "Reason")):
        text = holder.get(key)
        if len(encoded) > limit and isinstance(text, str) and text:
            kept = _prefix_within(text, len(json.dumps(text)) - 2 - (len(encoded) - limit) - len(_TRUNCATED))
            holder[key] = kept + _TRUNCATED if len(kept) < len(text) else text
            encoded = _encode(body)
    if len(encoded) > limit:
        body.update(Status=FAILED, Data={}, Reason="The response did not fit in 4096 bytes; see the function's log")
        encoded = _encode(body)
    if len(encoded) > limit:
        for key in ("PhysicalResourceId", "LogicalResourceId", "StackId", "RequestId"):
            body[key] = _prefix_within(body[key], 256)
        encoded = _encode(body)
    return encoded


def _prefix_within(text: str, max_encoded: int) -> str:
    """The longest prefix of ``text`` whose JSON encoding fits ``max_encoded`` bytes (searched: escapes make the
    ratio vary, up to 12 bytes for one character): the encoded length only grows with the prefix."""
    fitting = bisect.bisect_right(range(1, len(text) + 1), max_encoded, key=lambda n: len(json.dumps(text[:n])) - 2)
    return text[:fitting]
