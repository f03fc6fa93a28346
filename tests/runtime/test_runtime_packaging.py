"""Starting the job from the stack, on the synthesized asset under awslambdaric (the example app synthesized with
``-c startJob=true``): the start, adoption and conflict cases, with the resource's own properties as CloudFormation
sends them, against the loopback Lookout for Vision (which learns StartModelPackagingJob) and Greengrass."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lambda_runtime import LambdaHarness, SynthesizedApp, synthesized_gate
from support import FakeGreengrass, ResponseRecorder, component_arn, make_event, ok, packaged

from model_packaging_job import configuration, contract

PROJECT, COMPONENT = "pcb", "com.example.pcb-defects"
ARN = component_arn(COMPONENT, "3.0.0")


@pytest.fixture(scope="module")
def starting_app(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    return synthesized_gate(tmp_path_factory.mktemp("start-synth"), "startJob=true", "modelVersion=3")


@pytest.fixture(scope="module")
def cfn_properties(starting_app: SynthesizedApp) -> dict[str, Any]:
    """The resource's properties as CloudFormation sends them: every scalar a string."""
    [props] = [
        r["Properties"] for r in starting_app.template["Resources"].values() if r["Type"] == contract.RESOURCE_TYPE
    ]
    props = {k: v for k, v in props.items() if k != "ServiceToken"}
    return {
        k: v if isinstance(v, dict) else (str(v).lower() if isinstance(v, bool) else str(v))
        for k, v in json.loads(json.dumps(props)).items()
    }


@pytest.fixture
def harness(starting_app: SynthesizedApp, tmp_path: Path) -> Iterator[LambdaHarness]:
    with LambdaHarness(starting_app.function, tmp_path, greengrass=FakeGreengrass(), max_concurrency=2) as h:
        h.lookoutvision.projects.add(PROJECT)
        h.lookoutvision.after_start = lambda request: [ok(packaged(request, "CREATED")), ok(packaged(request))]
        h.greengrass.script(ARN, ["REQUESTED", "DEPLOYABLE"])
        yield h


def _create(harness: LambdaHarness, props: dict[str, Any]) -> dict[str, Any]:
    with ResponseRecorder() as recorder:
        invocation = harness.function.invoke(make_event("Create", recorder.url, props))
        assert invocation.done.wait(90) and invocation.status == "success", invocation
        return recorder.only


def test_the_synthesized_resource_starts_its_job_once_and_passes_a_deployable_component(
    harness: LambdaHarness, cfn_properties: dict[str, Any]
) -> None:
    body = _create(harness, cfn_properties)
    job = cfn_properties["JobName"]
    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", f"{PROJECT}/{job}"), body["Reason"]
    [start] = harness.lookoutvision.starts
    assert start["token"] == configuration.parse(cfn_properties["Packaging"]).client_token(PROJECT, job)
    assert start["body"]["Configuration"] == cfn_properties["Packaging"]["Configuration"]
    assert harness.greengrass.calls(ARN) == 2


def test_the_synthesized_resource_adopts_a_job_with_its_configuration(
    harness: LambdaHarness, cfn_properties: dict[str, Any]
) -> None:
    job = cfn_properties["JobName"]
    request = {"ProjectName": PROJECT, "JobName": job, **cfn_properties["Packaging"]}
    harness.lookoutvision.script(PROJECT, job, [ok(packaged(request))])
    body = _create(harness, cfn_properties)
    assert body["Status"] == "SUCCESS", body["Reason"]
    assert harness.lookoutvision.starts == []


def test_the_synthesized_resource_refuses_a_job_with_another_configuration(
    harness: LambdaHarness, cfn_properties: dict[str, Any]
) -> None:
    job = cfn_properties["JobName"]
    request = {"ProjectName": PROJECT, "JobName": job, **cfn_properties["Packaging"], "ModelVersion": "2"}
    harness.lookoutvision.script(PROJECT, job, [ok(packaged(request))])
    body = _create(harness, cfn_properties)
    assert body["Status"] == "FAILED"
    assert "ModelVersion is 2, this configuration asks for 3" in body["Reason"]
    assert harness.lookoutvision.starts == [] and harness.greengrass.calls() == 0
