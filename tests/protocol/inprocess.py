"""The protocol suites' doubles and their one fixture: the handler made by the product's factory and run in a thread,
its Lambda client, a capture of every log line, and the loopback servers the product's clients are pointed at."""

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any, NoReturn
from unittest.mock import Mock

import pytest
from botocore.exceptions import ClientError
from support import FakeContext, FakeGreengrass, FakeLookoutVision, ResponseRecorder, VirtualClock, leaked_lines

from cdk_lookoutvision_packaging_handler import index


def refused(**_: Any) -> NoReturn:
    """The side effect of ``Gate.lam.invoke`` when Lambda refuses the Invoke (by default it accepts every one)."""
    raise ClientError({"Error": {"Code": "AccessDeniedException"}}, "Invoke")


class Capture(logging.Handler):
    """Formats every record with the formatter crhelper gives the root handlers, as the Lambda runtime does: each line
    (its message JSON-escaped, a URL left as it is) in ``lines``, each record that cannot be formatted in ``errors``."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception as exc:
            self.errors.append(f"{record.msg!r}: {exc!r}")

    def assert_clean(self, url: str) -> None:
        """Every record could be formatted, and no line carries the path of ``url`` (a ResponseURL) or the signing
        parameters of a presigned URL."""
        assert self.errors == [], f"records that cannot be formatted: {self.errors[:3]}"
        assert (leaks := leaked_lines(self.lines, [url])) == [], f"log lines show the ResponseURL: {leaks[:2]}"


class Gate:
    """One handler made by the product's factory from ``arguments`` (its clients or others), its virtual clock and its
    Lambda client ``lam`` (a Mock); the loopback ``api``, ``gg``, ``recorder`` (the ResponseURL), log ``capture``."""

    def __init__(self, world: tuple[FakeLookoutVision, FakeGreengrass, ResponseRecorder, Capture], **arguments: Any):
        (self.api, self.gg, self.recorder, self.capture), self.arguments = world, arguments
        self.vclock, self.lam = VirtualClock(time.time()), Mock(spec=["invoke"])
        made = {"environ": {}, "clock": self.vclock.clock(), "lambda_client": self.lam, **arguments}
        self.handler = index.make_handler(**made)

    def again(self, **changes: Any) -> "Gate":
        """The handler of another container: the same world and arguments, with ``changes``."""
        return Gate((self.api, self.gg, self.recorder, self.capture), **{**self.arguments, **changes})

    def __call__(self, event: Any, timeout_s: float = 900.0) -> float:
        """Invoke the handler in a thread, so that a hang fails the test; return how long it ran. It never raises."""
        raised: list[BaseException] = []

        def invoke() -> None:
            try:
                self.handler(event, FakeContext(timeout_s))
            except BaseException as exc:
                raised.append(exc)

        started_at, worker = time.monotonic(), threading.Thread(target=invoke, daemon=True)
        worker.start()
        worker.join(20.0)
        assert not worker.is_alive() and raised == [], f"the handler hung for 20 s, or raised {raised}"
        return time.monotonic() - started_at


@pytest.fixture
def gate() -> Iterator[Gate]:
    """The product's own clients pointed at a loopback API where project pcb exists without jobs (a job once started
    is CREATED, then SUCCEEDED) and a loopback Greengrass that lists no component version yet; the log captured from
    the root logger, whose level is restored afterwards."""
    root, level, capture = logging.root, logging.root.level, Capture()
    root.addHandler(capture)
    with FakeLookoutVision() as api, FakeGreengrass() as gg, ResponseRecorder() as recorder:
        api.projects.add("pcb")
        greengrass = index.make_greengrass_client(endpoint_url=gg.url)
        lookoutvision = index.make_lookoutvision_client(endpoint_url=api.url)
        yield Gate((api, gg, recorder, capture), lookoutvision=lookoutvision, greengrass=greengrass)
    root.removeHandler(capture)
    root.setLevel(level)
