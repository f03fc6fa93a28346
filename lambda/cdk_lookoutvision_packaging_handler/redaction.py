"""The ResponseURL is a presigned S3 URL, a credential: a filter on every root handler scrubs it, in any form a line
may print it, and any presigned URL or signing parameter, from every log line at any level.
"""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import urlsplit

_SECRET_URL = re.compile(r"https?://[^\s'\"]*(?:X-Amz-Signature|Signature=|X-Amz-Credential)[^\s'\"]*", re.IGNORECASE)
_RESPONSE_URL_FIELD = re.compile(r"""(['"]?ResponseURL['"]?\s*[:=]\s*)(['"])[^'"]*\2""")
# Signing parameters wherever they stand (a URL holding both quote characters defeats the patterns above).
_PRESIGNED_PARAMETER = re.compile(
    r"(?:X-Amz-(?:Signature|Credential|Security-Token)|Signature|AWSAccessKeyId)(?:=|%3D)[^&\s'\"\\]*",
    re.IGNORECASE,
)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    for secret in secrets:
        text = text.replace(secret, "<redacted>")
    text = _RESPONSE_URL_FIELD.sub(r"\1\2<redacted>\2", text)
    text = _SECRET_URL.sub("<redacted-url>", text)
    return _PRESIGNED_PARAMETER.sub("<redacted>", text)


def secret_forms(url: str) -> tuple[str, ...]:
    """``url`` as it may appear in a log line: raw, JSON-escaped, repr-escaped, and its path alone, longest first."""
    try:
        path = urlsplit(url).path
    except ValueError:  # an unparseable URL (a broken IPv6 host) is still redacted whole
        path = ""
    forms = {url, json.dumps(url)[1:-1], repr(url)[1:-1], path if len(path) > 1 else ""}
    return tuple(sorted((form for form in forms if form), key=len, reverse=True))


class RedactingFilter(logging.Filter):
    secrets: tuple[str, ...] = ()  # the request's ResponseURL in each form (``secret_forms``); set per request

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not stop the log line
            message = str(record.msg)
        clean = redact(message, self.secrets)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        return True


def install_redaction(root: logging.Logger | None = None, *, response_url: object = None) -> None:
    """Filter every root handler (handler filters see all loggers' records) to hide ``response_url`` too."""
    root = root or logging.getLogger()
    secrets = secret_forms(response_url) if isinstance(response_url, str) and response_url else ()
    for handler in root.handlers:
        for redacting in [f for f in handler.filters if isinstance(f, RedactingFilter)] or [RedactingFilter()]:
            redacting.secrets = secrets
            handler.addFilter(redacting)  # adds a filter only once
