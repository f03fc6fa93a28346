"""redaction: no log line shows a presigned URL, its signing parameters or the request's ResponseURL in any form."""

from __future__ import annotations

import io
import json
import logging

import pytest

from cdk_lookoutvision_packaging_handler.redaction import RedactingFilter, install_redaction, redact, secret_forms

SIGNED = (
    "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20261129%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)
PRESIGNED = f"https://cfn-response-useast1.s3.amazonaws.com/arn%3Aaws%3Acloudformation%3Astack/S/x%7CJob?{SIGNED}"
LEGACY = "https://h.s3.amazonaws.com/x?AWSAccessKeyId=AKIA&Expires=1&Signature=abc%3D"
DOCS = "job FAILED: see https://docs.aws.amazon.com/lookout-for-vision/"
SECRETS = ("0123456789abcdef0123456789abcdef", "AKIAEXAMPLE", "X-Amz-Signature", "X-Amz-Credential", "Signature=")


def assert_clean(text: str) -> None:
    assert not [secret for secret in SECRETS if secret in text], text


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        (f"PUT to {PRESIGNED} failed", "PUT to <redacted-url> failed"),
        (f"url={PRESIGNED}", "url=<redacted-url>"),
        (json.dumps({"ResponseURL": PRESIGNED, "A": 1}), '{"ResponseURL": "<redacted>", "A": 1}'),
        (str({"A": 1, "ResponseURL": PRESIGNED}), "{'A': 1, 'ResponseURL': '<redacted>'}"),
        (f"to {LEGACY}", "to <redacted-url>"),
        (json.dumps({"ResponseURL": "http://127.0.0.1:8080/secret-path"}), '{"ResponseURL": "<redacted>"}'),
        ("PUT https://h/p?X-Amz-Security-Token=IQoJ%2Ft&X-Amz-Date=1", "PUT https://h/p?<redacted>&X-Amz-Date=1"),
        (DOCS, DOCS),
    ],
)
def test_a_presigned_url_a_response_url_and_signing_parameters_go_and_ordinary_text_stays(
    text: str, clean: str
) -> None:
    assert redact(text) == clean


def test_the_signature_goes_whatever_quotes_surround_the_url_and_a_known_url_goes_whole() -> None:
    url = f'https://cfn.s3.amazonaws.com/arn%3Astack/it\'s-a-"quoted"-stack?{SIGNED}'
    for text in (f"PUT {url}", repr(url), json.dumps({"ResponseURL": url}), str({"ResponseURL": url, "A": 1})):
        assert_clean(redact(text))
        told = redact(text, secret_forms(url))
        assert_clean(told)
        assert "quoted" not in told, told


def test_secret_forms_are_the_url_as_a_line_may_print_it_longest_first() -> None:
    assert secret_forms('http://h/p"x?a=1') == ('http://h/p\\"x?a=1', 'http://h/p"x?a=1', '/p"x')
    assert secret_forms("http://h/?a") == ("http://h/?a",)
    assert secret_forms("http://h/x?a") == ("http://h/x?a", "/x")
    assert secret_forms("http://[::1/p") == ("http://[::1/p",)


def test_the_filter_on_every_root_handler_scrubs_messages_arguments_and_tracebacks_of_any_logger() -> None:
    stream = io.StringIO()
    root = logging.Logger("isolated-root")
    handlers = [logging.StreamHandler(stream), logging.StreamHandler(io.StringIO())]
    for handler in handlers:
        root.addHandler(handler)
    install_redaction(root, response_url="http://h/first")
    install_redaction(root, response_url="http://127.0.0.1:9/plain-secret-path")
    log = logging.Logger("any", logging.INFO)
    log.parent = root
    log.info("answering %s now", PRESIGNED)
    log.info("event %s", {"ResponseURL": PRESIGNED})
    log.info("to /plain-secret-path, not http://h/first")
    log.info("a broken format %d /plain-secret-path", "x")  # logged as written, still redacted
    try:
        raise RuntimeError(f"could not reach {PRESIGNED} or /plain-secret-path")
    except RuntimeError:
        log.exception("failed")
    output = stream.getvalue()
    assert "answering <redacted-url> now" in output and "Traceback" in output and "RuntimeError" in output
    assert "\nto <redacted>, not" in output and "\na broken format %d <redacted>\n" in output
    assert_clean(output)
    assert "plain-secret-path" not in output and "not http://h/first" in output
    # Installed again for each request: one filter per handler, hiding that request's URL only.
    assert [len([f for f in h.filters if isinstance(f, RedactingFilter)]) for h in handlers] == [1, 1]
    for not_a_url in (None, ["http://h/p"]):  # an event without a usable ResponseURL still gets an answer
        install_redaction(root, response_url=not_a_url)
        assert all(f.secrets == () for h in handlers for f in h.filters if isinstance(f, RedactingFilter))
