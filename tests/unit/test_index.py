"""index: the entry point's clients are made on first use, so that an import never fails for want of a model."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from support import (
    COMPONENT,
    FakeContext,
    FakeGreengrass,
    FakeLookoutVision,
    ResponseRecorder,
    VirtualClock,
    description,
    make_event,
    ok,
    properties,
)

from cdk_lookoutvision_packaging_handler import index
from cdk_lookoutvision_packaging_handler.index import LazyClient


def test_a_client_is_made_on_its_first_use_and_only_once() -> None:
    made: list[Any] = []

    def make() -> Any:
        made.append(SimpleNamespace(describe=lambda: "described"))
        return made[-1]

    lazy = LazyClient(make)
    assert made == []
    assert (lazy.describe(), lazy.describe(), len(made)) == ("described", "described", 1)


def test_the_clients_are_made_in_the_function_s_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index, "REGION", "eu-west-9")
    assert index.make_greengrass_client().meta.region_name == "eu-west-9"


def test_a_handler_given_no_clients_makes_each_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []
    api = FakeLookoutVision()
    api.script("pcb", "pcb-v3-x86", [*[ok(description("RUNNING"))] * 6, ok(description())])
    clients = {
        "make_lookoutvision_client": api.client(),
        "make_greengrass_client": FakeGreengrass(default="DEPLOYABLE").client(),
        "make_lambda_client": SimpleNamespace(invoke=lambda **request: made.append("invoked") or {"StatusCode": 202}),
    }
    for name, client in clients.items():
        monkeypatch.setattr(index, name, lambda name=name, client=client: made.append(name) or client)
    handler = index.make_handler(clock=VirtualClock().clock(), environ={})
    with ResponseRecorder() as recorder:
        handler(make_event(response_url=recorder.url), FakeContext(70.0))  # RUNNING: handed on 10 s in
        watched = properties(ExpectedComponentName=COMPONENT)
        handler(make_event(response_url=recorder.url, props=watched), FakeContext(900.0))
        assert [body["Status"] for body in recorder.bodies] == ["SUCCESS"]
    assert made == ["make_lookoutvision_client", "make_lambda_client", "invoked", "make_greengrass_client"]
