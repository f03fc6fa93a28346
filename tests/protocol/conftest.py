"""The protocol suites' fixtures: the loopback servers, the product's clients pointed at them, a handler and a log
capture."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from inprocess import Capture, Gate
from support import FakeGreengrass, FakeLookoutVision, ResponseRecorder, ok, packaged

from cdk_lookoutvision_packaging_handler import index

PROJECT = "pcb"


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


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[FakeLookoutVision, FakeGreengrass]]:
    with FakeLookoutVision() as lookoutvision, FakeGreengrass() as greengrass:
        yield lookoutvision, greengrass


@pytest.fixture(scope="module")
def client(servers: tuple[FakeLookoutVision, FakeGreengrass]) -> Any:
    """The product's own Lookout for Vision client, pointed at the loopback API."""
    return index.make_lookoutvision_client(endpoint_url=servers[0].url)


@pytest.fixture(scope="module")
def greengrass(servers: tuple[FakeLookoutVision, FakeGreengrass]) -> Any:
    """The product's own Greengrass client, pointed at the loopback Greengrass."""
    return index.make_greengrass_client(endpoint_url=servers[1].url)


@pytest.fixture
def api(servers: tuple[FakeLookoutVision, FakeGreengrass]) -> FakeLookoutVision:
    """The loopback API: project pcb exists without jobs; a job once started is CREATED, then SUCCEEDED."""
    fake = servers[0]
    for state in (fake.scripts, fake.projects, fake.requests, fake.starts, fake.started, fake.refusals):
        state.clear()
    fake.projects.add(PROJECT)
    fake.refuse_start = None
    fake.after_start = lambda request: [ok(packaged(request, "CREATED")), ok(packaged(request))]
    return fake


@pytest.fixture
def gg(servers: tuple[FakeLookoutVision, FakeGreengrass]) -> FakeGreengrass:
    """The loopback Greengrass: no component version listed yet."""
    for state in (servers[1].scripts, servers[1].requests):
        state.clear()
    return servers[1]


@pytest.fixture
def recorder() -> Iterator[ResponseRecorder]:
    with ResponseRecorder() as rec:
        yield rec


@pytest.fixture
def gate(api: FakeLookoutVision, gg: FakeGreengrass, client: Any, greengrass: Any) -> Gate:
    return Gate(client, greengrass=greengrass)
