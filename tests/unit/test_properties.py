"""properties: ResourceProperties as CloudFormation sends them, read into JobProperties or refused naming the rule."""

from __future__ import annotations

import re

import pytest
from support import properties

from cdk_lookoutvision_packaging_handler.properties import JobProperties, PropertyError, parse_properties

COMPONENT = "com.example.pcb-defects"
GREENGRASS = {"ComponentName": COMPONENT, "TargetDevice": "jetson_xavier", "S3OutputLocation": {"Bucket": "pcb-m"}}
PACKAGING = {"ModelVersion": "3", "Configuration": {"Greengrass": GREENGRASS}}
NOT_SECONDS = "WaitTimeoutSeconds must be a whole number of seconds, got"


def read(**given: object) -> JobProperties:
    return parse_properties(properties(**given))


def test_defaults_every_property_and_values_as_cloudformation_sends_them() -> None:
    assert read() == JobProperties("pcb", "pcb-v3-x86", True, 2700, None, None, None)
    parsed = read(
        WaitForCompletion="false", WaitTimeoutSeconds="900", ExpectedComponentName=COMPONENT, ServiceTimeout="1200"
    )
    assert parsed == JobProperties("pcb", "pcb-v3-x86", False, 900, COMPONENT, 1200)
    assert (parsed.physical_id, parsed.answer_within_s) == ("pcb/pcb-v3-x86", 1200)
    assert [read(WaitForCompletion=v).wait_for_completion for v in ("True", "FALSE", False)] == [True, False, False]
    assert [read(WaitTimeoutSeconds=v).wait_timeout_s for v in (" 60 ", 3300)] == [60, 3300]
    # CloudFormation checks its own ServiceTimeout (1 to 3600 s): any other value counts as none.
    assert [read(ServiceTimeout=v).service_timeout_s for v in ("1", "3600", "0", "3601", "soon")] == [1, 3600] + [
        None
    ] * 3
    # A resource that starts its job expects the component it starts.
    started = read(Packaging=PACKAGING)
    assert started.packaging is not None and started.expected_component_name == COMPONENT
    assert read(Packaging=PACKAGING, ExpectedComponentName=COMPONENT) == started


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        # What each name rule accepts is contract's; here: that each property is held to its own, under its name.
        ("ProjectName", "pcb line", "ProjectName 'pcb line' must match [a-zA-Z0-9][a-zA-Z0-9_\\-]* (letters, digits"),
        ("JobName", "pcb_v3", "JobName 'pcb_v3' must match [a-zA-Z0-9-]+"),
        ("ExpectedComponentName", "", "ExpectedComponentName '' is 0 characters long"),
        ("ProjectName", None, "ProjectName is required"),
        ("JobName", None, "JobName is required"),
        ("WaitForCompletion", "yes", "WaitForCompletion must be true or false, got 'yes'"),
        ("WaitForCompletion", 1, "WaitForCompletion must be true or false, got 1"),
        ("WaitForCompletion", None, "WaitForCompletion must be true or false, got None"),
        ("WaitTimeoutSeconds", 59, "WaitTimeoutSeconds 59 is outside 60..3300 (1 to 55 minutes)"),
        ("WaitTimeoutSeconds", "3301", "WaitTimeoutSeconds 3301 is outside 60..3300"),
        ("WaitTimeoutSeconds", "1.5", f"{NOT_SECONDS} '1.5'"),
        ("WaitTimeoutSeconds", "1234567", f"{NOT_SECONDS} '1234567'"),
        ("WaitTimeoutSeconds", 60.0, f"{NOT_SECONDS} 60.0"),
        ("WaitTimeoutSeconds", True, f"{NOT_SECONDS} True"),
        ("Colour", "blue", "unknown properties 'Colour'; supported: ProjectName, JobName, WaitForCompletion, Wait"),
        ("Packaging", {"ModelVersion": "3"}, "Packaging: Packaging.Configuration.Greengrass is required"),
        ("Packaging", PACKAGING, "ExpectedComponentName 'com.example.other' differs from the component the job is"),
    ],
)
def test_a_property_breaking_its_rule_is_refused_saying_so(key: str, value: object, problem: str) -> None:
    given = properties(**{key: value}, **({"ExpectedComponentName": "com.example.other"} if key == "Packaging" else {}))
    if value is None and key.endswith("Name"):
        del given[key]
    with pytest.raises(PropertyError) as info:
        parse_properties(given)
    assert str(info.value).startswith(problem)


@pytest.mark.parametrize(("value", "kind"), [(["ProjectName"], "list"), (None, "NoneType")])
def test_the_properties_must_be_an_object(value: object, kind: str) -> None:
    with pytest.raises(PropertyError, match=rf"^ResourceProperties must be an object, got {kind}$"):
        parse_properties(value)


def test_a_refused_value_or_unknown_name_is_shown_cut_and_at_most_five_unknown_names() -> None:
    refused = {"WaitForCompletion": "y" * 70, "WaitTimeoutSeconds": "1" * 59 + ".5" + "0" * 10}
    for key, value in refused.items():
        with pytest.raises(PropertyError, match=re.escape(f"got {value[:60] + '...'!r}")):
            read(**{key: value})
    unknown = {f"{letter * 70}": 1 for letter in "ABCDEF"}
    with pytest.raises(PropertyError) as info:
        read(**unknown)
    shown = ", ".join(repr(letter * 64) for letter in "ABCDE")
    assert str(info.value).startswith(f"unknown properties {shown}; supported: ProjectName, ")
