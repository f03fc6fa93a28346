"""The protocol suites' own doubles and fixtures: the handler made by the product's factory and run in a thread, the
Lambda client it hands a wait on with, a capture of every log line, and the loopback servers with the product's clients
pointed at them."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from support import FakeContext, FakeGreengrass, FakeLookoutVision, ResponseRecorder, VirtualClock, leaked_lines

from cdk_lookoutvision_packaging_handler import index, outbound

PROJECT = "pcb"


class FakeLambda:
    """The Lambda client the handler hands a wait on with: records each Invoke, runs ``during`` inside it, and
    accepts it or refuses it as AccessDenied."""

    def __init__(self, refuse: bool = False, during: Callable[[], None] | None = None) -> None:
        self.refuse, self.during = refuse, during
        self.invocations: list[dict[str, Any]] = []

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.invocations.append(kwargs)
        if self.during is not None:
            self.during()
        if self.refuse:
            body = {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}}
            raise ClientError({**body, "ResponseMetadata": {"HTTPStatusCode": 403}}, "Invoke")
        return {"StatusCode": 202}


class Gate:
    """One handler made by the product's factory, its virtual clock and its Lambda double."""

    def __init__(
        self, lookoutvision: Any, lam: FakeLambda | None = None, clock: outbound.Clock | None = None, **kwargs: Any
    ) -> None:
        self.vclock = VirtualClock(time.time())
        self.lam = lam or FakeLambda()
        kwargs.setdefault("environ", {})
        self.handler = index.make_handler(
            lookoutvision=lookoutvision, lambda_client=self.lam, clock=clock or self.vclock.clock(), **kwargs
        )

    def __call__(self, event: Any, timeout_s: float = 900.0, limit_s: float = 20.0) -> float:
        """Invoke the handler in a thread, so that a hang fails the test; return how long it ran. It never raises."""
        raised: list[BaseException] = []

        def invoke() -> None:
            try:
                self.handler(event, FakeContext(timeout_s))
            except BaseException as exc:
                raised.append(exc)

        started_at = time.monotonic()
        worker = threading.Thread(target=invoke, daemon=True)
        worker.start()
        worker.join(limit_s)
        assert not worker.is_alive(), f"the handler was still running after {limit_s} s"
        assert raised == [], f"the handler raised {raised[0]!r}"
        return time.monotonic() - started_at


class Capture(logging.Handler):
    """Formats every record with the formatter crhelper gives the root handlers, as the Lambda runtime's handler does
    (a record that cannot be formatted is kept in ``errors``); ``lines`` holds each message and its formatted line."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.formatted: list[str] = []
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.formatted.append(self.format(record))
        except Exception as exc:
            self.errors.append(f"{record.msg!r}: {exc!r}")
            return
        self.lines += [record.getMessage(), self.formatted[-1]]

    def assert_clean(self, url: str) -> None:
        """Every record could be formatted, and no line carries the path of ``url`` (a ResponseURL) or the signing
        parameters of a presigned URL."""
        assert self.errors == [], f"records that cannot be formatted: {self.errors[:3]}"
        assert (leaks := leaked_lines(self.lines, [url])) == [], f"log lines show the ResponseURL: {leaks[:2]}"


@pytest.fixture
def captured() -> Iterator[Capture]:
    root = logging.getLogger()
    level, handler = root.level, Capture()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
def api() -> Iterator[FakeLookoutVision]:
    """The loopback API: project pcb exists without jobs; a job once started is CREATED, then SUCCEEDED."""
    with FakeLookoutVision() as fake:
        fake.projects.add(PROJECT)
        yield fake


@pytest.fixture
def gg() -> Iterator[FakeGreengrass]:
    """The loopback Greengrass: no component version listed yet."""
    with FakeGreengrass() as fake:
        yield fake


@pytest.fixture
def client(api: FakeLookoutVision) -> Any:
    """The product's own Lookout for Vision client, pointed at the loopback API."""
    return index.make_lookoutvision_client(endpoint_url=api.url)


@pytest.fixture
def greengrass(gg: FakeGreengrass) -> Any:
    """The product's own Greengrass client, pointed at the loopback Greengrass."""
    return index.make_greengrass_client(endpoint_url=gg.url)


@pytest.fixture
def recorder() -> Iterator[ResponseRecorder]:
    with ResponseRecorder() as rec:
        yield rec


@pytest.fixture
def gate(client: Any, greengrass: Any) -> Gate:
    return Gate(client, greengrass=greengrass)
