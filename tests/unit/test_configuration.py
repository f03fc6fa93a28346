"""configuration: a packaging configuration's rules in the API's terms, its request and token, and its differences."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support import description

from cdk_lookoutvision_packaging_handler.configuration import Packaging, PackagingError, check, parse

LOCATION = {"Bucket": "models-bucket", "Prefix": "lookoutvision/pcb/"}
GREENGRASS = {
    "ComponentName": "c",
    "ComponentVersion": "3.0.0",
    "TargetDevice": "jetson_xavier",
    "S3OutputLocation": LOCATION,
}
NVIDIA = {"Os": "LINUX", "Arch": "X86_64", "Accelerator": "NVIDIA"}
NVIDIA_OPTIONS = json.dumps({"gpu-code": "sm_75", "trt-ver": "7.1.3", "cuda-ver": "10.2"})
TAG = {"Key": "team", "Value": "vision ünd 2"}


def packaging(description_: str | None = None, model_version: str = "3", **change: Any) -> Packaging:
    """A valid configuration changed by ``change``; a None drops that key."""
    return Packaging(model_version, {k: v for k, v in {**GREENGRASS, **change}.items() if v is not None}, description_)


def on(platform: Any, options: str | None = None) -> dict[str, Any]:
    return {"TargetDevice": None, "TargetPlatform": platform, "CompilerOptions": options}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"model_version": "03"}, "ModelVersion '03' must match"),
        (
            {"model_version": "latest", "ComponentVersion": None},
            "ModelVersion latest needs a ComponentVersion: the component version (and the default job name) cannot be "
            "derived from it",
        ),
        ({"ComponentVersion": "3.0"}, "ComponentVersion '3.0' is 3 characters long"),
        ({"ComponentName": None}, "ComponentName is required"),
        ({"ComponentName": "c d"}, "ComponentName 'c d' must match"),
        ({"ComponentDescription": "a\nb"}, "ComponentDescription 'a\\nb' must match"),
        ({"description_": "a\nb"}, "Description 'a\\nb' must match"),
        (
            {"Colour": "red"},
            "Configuration.Greengrass has unknown keys Colour; it takes CompilerOptions, ComponentDesc",
        ),
        ({"TargetDevice": None}, "give exactly one of TargetDevice"),
        ({"TargetPlatform": {"Os": "LINUX", "Arch": "X86_64"}}, "give exactly one of TargetDevice"),
        ({"TargetDevice": "jetson_nano"}, "TargetDevice 'jetson_nano' is not one of jetson_xavier"),
        ({"CompilerOptions": '{"mcpu": "x"}'}, "CompilerOptions go with TargetPlatform only"),
        (on(NVIDIA), "an NVIDIA TargetPlatform needs CompilerOptions with gpu-code, trt-ver, cuda-ver; missing gpu-"),
        (on(NVIDIA, '{"gpu-code": "sm_72"}'), "an NVIDIA TargetPlatform needs CompilerOptions with gpu-code, trt-"),
        (on({"Os": "LINUX", "Arch": "MIPS"}), "TargetPlatform.Arch 'MIPS' is not one of ARM64, X86_64"),
        (on({"Arch": "X86_64"}), "TargetPlatform.Os None is not one of LINUX"),
        (on({**NVIDIA, "Accelerator": "TPU"}), "TargetPlatform.Accelerator 'TPU' is not one of NVIDIA"),
        (on({**NVIDIA, "Colour": "red"}, NVIDIA_OPTIONS), "TargetPlatform has unknown keys Colour; it takes Accelerat"),
        (on({"Os": "LINUX", "Arch": "X86_64"}, "{}"), "CompilerOptions must be a JSON object of 3-1024 characters"),
        (on({"Os": "LINUX", "Arch": "X86_64"}, "[1, 2]"), "CompilerOptions must be a JSON object of 3-1024"),
        (on("LINUX"), "TargetPlatform must be an object with Os, Arch and optionally Accelerator"),
        ({"S3OutputLocation": None}, "S3OutputLocation with a Bucket is required"),
        ({"S3OutputLocation": {"Prefix": "p/"}}, "S3OutputLocation with a Bucket is required"),
        ({"S3OutputLocation": {"Bucket": "b"}}, "Bucket 'b' is 1 characters long"),
        ({"S3OutputLocation": {"Bucket": "models-bucket", "Prefix": "/abs"}}, "Prefix '/abs' must match"),
        (
            {"S3OutputLocation": {**LOCATION, "Region": "x"}},
            "S3OutputLocation has unknown keys Region; it takes Bucket",
        ),
        ({"Tags": ""}, "Tags must be a list of at most 200 {Key, Value} pairs, got str"),
        ({"Tags": [TAG] * 201}, "Tags must be a list of at most 200 {Key, Value} pairs, got 201 pairs"),
        ({"Tags": ["team=vision"]}, "each of Tags must be a {Key, Value} pair, got str"),
        ({"Tags": [{**TAG, "Extra": "x"}]}, "a tag has unknown keys Extra; it takes Key, Value"),
        ({"Tags": [{"Key": "team$", "Value": "v"}]}, "tag key 'team$' has '$'"),
    ],
)
def test_each_rule_says_what_to_fix_in_the_api_s_terms(change: dict[str, Any], problem: str) -> None:
    problems = check(packaging(**change))
    assert [found for found in problems if found.startswith(problem)], problems


def test_a_complete_configuration_has_no_problem_and_values_skipped_are_not_checked() -> None:
    assert check(packaging("built by cdk deploy", Tags=[TAG])) == check(packaging(**on(NVIDIA, NVIDIA_OPTIONS))) == []
    token = "${Token[TOKEN.1]}"  # the construct skips tokens, which the handler checks at deploy time
    tokens = packaging(token, TargetDevice=token, ComponentVersion=token, Tags=token)
    assert (check(tokens, skip=lambda value: value == token), len(check(tokens))) == ([], 4)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("3", "Packaging must be an object, got str"),
        ({"ModelVersion": "3"}, "Packaging.Configuration.Greengrass is required (an object)"),
        ({**packaging().as_property(), "Extra": "1"}, "Packaging has unknown keys Extra"),
        ({"Configuration": {"Greengrass": {}, "Other": {}}}, "Packaging.Configuration has unknown keys Other; it "),
        ({**packaging().as_property(), "ModelVersion": "03"}, "ModelVersion '03' must match"),
    ],
)
def test_a_property_cloudformation_sends_that_breaks_a_rule_is_refused(raw: Any, problem: str) -> None:
    with pytest.raises(PackagingError) as info:
        parse(raw)
    assert str(info.value).startswith(problem)


def test_the_property_parses_back_and_its_start_request_has_the_component_version_and_the_token() -> None:
    p = packaging("built by cdk deploy", ComponentVersion=None)
    assert parse(json.loads(json.dumps(p.as_property()))) == p
    token = p.client_token("pcb", "job")
    greengrass = {**p.greengrass, "ComponentVersion": "3.0.0"}
    expected = {
        "ProjectName": "pcb",
        "ModelVersion": "3",
        "JobName": "job",
        "Configuration": {"Greengrass": greengrass},
    }
    assert p.start_request("pcb", "job") == {**expected, "ClientToken": token, "Description": "built by cdk deploy"}
    assert len(token) == 64 and token.isalnum() and p.client_token("pcb", "job") == token
    others = [p.client_token("pcb", "job2"), p.client_token("pcb2", "job"), packaging().client_token("pcb", "job")]
    assert token not in others
    assert packaging(model_version="latest", ComponentVersion=None).component_version is None


def existing(p: Packaging, model_version: str = "3", **greengrass: Any) -> dict[str, Any]:
    changed = {k: v for k, v in {**p.greengrass, **greengrass}.items() if v is not None}
    return {**description(), "ModelVersion": model_version, "ModelPackagingConfiguration": {"Greengrass": changed}}


def test_differences_name_what_decides_the_component_and_nothing_else() -> None:
    p = packaging(**on(NVIDIA, NVIDIA_OPTIONS))
    # Tags, descriptions, key order and JSON spacing do not change what is built.
    spaced = json.dumps(json.loads(NVIDIA_OPTIONS), indent=2)
    same = existing(p, ComponentDescription="x", Tags=[], CompilerOptions=spaced, TargetPlatform={**NVIDIA})
    assert p.differences(same) == []
    assert p.differences(existing(p, "4", ComponentVersion="3.0.1", TargetPlatform={"Os": "LINUX"})) == [
        "ModelVersion is 4, this configuration asks for 3",
        "ComponentVersion is 3.0.1, this configuration asks for 3.0.0",
        'TargetPlatform is {"Os": "LINUX"}, this configuration asks for {"Accelerator": "NVIDIA", "Arch": "X86_64", '
        '"Os": "LINUX"}',
    ]
    assert packaging().differences(existing(packaging(), TargetDevice=None, S3OutputLocation={"Bucket": "b"})) == [
        "TargetDevice is none, this configuration asks for jetson_xavier",
        "S3OutputLocation is s3://b/, this configuration asks for s3://models-bucket/lookoutvision/pcb/",
    ]
    latest = packaging(model_version="latest")  # adopts whatever model version the job packaged
    assert latest.differences(existing(latest, "7")) == []


def test_the_token_is_pinned_and_a_configuration_without_a_description_sends_none() -> None:
    # Stacks have started jobs with these tokens: another canonical form would ask for a second job.
    assert packaging().client_token("pcb", "job") == "c857527e8444e0d37c1fe734cbda5a5dd48cdffdd3f6e7bb26be588db798ebc2"
    assert "Description" not in packaging().as_property()


def test_differences_read_a_job_another_tool_started() -> None:
    p = packaging(**on({"Os": "LINUX", "Arch": "X86_64"}, '{"mcpu": "x"}'))
    assert p.differences(existing(p, ComponentName="d", CompilerOptions="--mcpu x", S3OutputLocation=None)) == [
        "ComponentName is d, this configuration asks for c",
        'CompilerOptions is --mcpu x, this configuration asks for {"mcpu": "x"}',
        "S3OutputLocation is none, this configuration asks for s3://models-bucket/lookoutvision/pcb/",
    ]
    assert p.differences(existing(p, S3OutputLocation={"Prefix": "lookoutvision/pcb/"})) == [
        "S3OutputLocation is s3:///lookoutvision/pcb/, this configuration asks for "
        "s3://models-bucket/lookoutvision/pcb/"
    ]


def test_compiler_options_are_held_to_their_length_and_a_value_not_checked_yet_is_left() -> None:
    platform = {"Os": "LINUX", "Arch": "X86_64"}
    longest = '{"a": "' + "x" * 1015 + '"}'
    assert check(packaging(**on(platform, "{ }"))) == check(packaging(**on(platform, longest))) == []
    too_long = '{"a": "' + "x" * 1016 + '"}'
    assert check(packaging(**on(platform, too_long))) == [
        f"CompilerOptions must be a JSON object of 3-1024 characters, got {too_long[:60]!r}"
    ]
    assert check(packaging(**on(NVIDIA, "${Token}")), skip=lambda value: value == "${Token}") == []


def test_latest_with_a_component_version_is_a_complete_configuration() -> None:
    assert check(packaging(model_version="latest")) == []


def test_every_problem_is_said_whole_and_at_most_five_unknown_keys_are_named() -> None:
    six = {key: "1" for key in "ABCDEF"}
    with pytest.raises(PackagingError, match=r"^Packaging has unknown keys A, B, C, D, E$"):
        parse({**packaging().as_property(), **six})
    with pytest.raises(PackagingError) as info:
        parse({"Configuration": {"Greengrass": {**GREENGRASS, "TargetDevice": "nano"}}})
    assert str(info.value) == (
        "ModelVersion '' is 0 characters long; it must be 1-10 characters matching [1-9][0-9]*|latest (a model version "
        "such as 3, or latest); TargetDevice 'nano' is not one of jetson_xavier"
    )
    assert check(packaging(**six)) == [
        "Configuration.Greengrass has unknown keys A, B, C, D, E; it takes CompilerOptions, ComponentDescription, "
        "ComponentName, ComponentVersion, S3OutputLocation, Tags, TargetDevice, TargetPlatform"
    ]


def test_each_tag_is_checked_and_a_tag_or_a_part_not_checked_yet_is_left() -> None:
    token = "${Token[TOKEN.2]}"
    assert check(packaging(Tags=[TAG] * 200)) == []
    tags = [token, "team=vision", {"Key": token, "Value": "v|"}, {"Key": "k|", "Value": token}, {**TAG, "Extra": "x"}]
    assert check(packaging(Tags=tags), skip=lambda value: value == token) == [
        "each of Tags must be a {Key, Value} pair, got str",
        "a tag has unknown keys Extra; it takes Key, Value",
    ]
