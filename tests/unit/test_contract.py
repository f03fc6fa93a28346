"""contract: the wire values deployed stacks rely on, pinned once, and the Lookout for Vision naming rules that the
construct, the handler and the CLI all validate with (each of them is tested for applying a rule, not for its
contents)."""

from __future__ import annotations

import pytest

from cdk_lookoutvision_packaging_handler import contract


def test_the_wire_values_deployed_stacks_rely_on_are_pinned() -> None:
    # A deployed stack holds these literally (its template, the function's environment, consumers' Fn::GetAtt):
    # renaming one breaks every stack deployed with the old name. Change them only with a migration.
    assert contract.RESOURCE_TYPE == "Custom::LookoutVisionModelPackagingJob"
    assert contract.PROPERTIES == (
        "ProjectName",
        "JobName",
        "WaitForCompletion",
        "WaitTimeoutSeconds",
        "ExpectedComponentName",
        "Packaging",
    )
    assert contract.CFN_PROPERTIES == {"ServiceToken", "ServiceTimeout"}
    # The Data keys (the construct's attributes), in the order the CLI prints them: every other test reads them here.
    assert contract.DATA_KEYS == tuple(
        "ComponentVersionArn ComponentName ComponentVersion Status StatusMessage ModelVersion ProjectName JobName "
        "CreationTimestamp LastUpdatedTimestamp".split()
    )
    assert contract.OUTPUT_KEYS == ("ComponentVersionArn", "ComponentName", "ComponentVersion")
    assert (contract.BUDGET_RPS_ENV, contract.BUDGET_JOBS_ENV, contract.LOG_LEVEL_ENV) == (
        "DESCRIBE_BUDGET_RPS",
        "DESCRIBE_BUDGET_JOBS",
        "LOG_LEVEL",
    )


PROJECT, JOB, COMPONENT = contract.PROJECT_NAME_RULE, contract.JOB_NAME_RULE, contract.COMPONENT_NAME_RULE


@pytest.mark.parametrize(
    ("rule", "name"),
    [
        *((PROJECT, n) for n in ["p", "pcb", "PCB_line-2", "0abc", "7", "a" * 255, "a-_-_"]),
        *((JOB, n) for n in ["j", "pcb-v3-x86", "ABC-123", "a" * 64, "-leading-dash"]),
        *((COMPONENT, n) for n in ["com.example.pcb-defects", "a", "A_b.c-d", "x" * 128]),
        *((contract.MODEL_VERSION_RULE, n) for n in ["3", "10", "latest"]),
        *((contract.COMPONENT_VERSION_RULE, n) for n in ["3.0.0", "999999.0.123456"]),
    ],
)
def test_valid_names(rule: contract.NameRule, name: str) -> None:
    assert rule.problem(name) is None


@pytest.mark.parametrize(
    ("rule", "name"),
    [
        *((PROJECT, n) for n in ["-pcb", "_pcb", "pcb line", "pcb/line", "pcb.v1", "pcb!"]),
        *((JOB, n) for n in ["pcb_v3", "pcb v3", "pcb.v3", "pcb/v3", "jöb"]),
        *((COMPONENT, n) for n in ["com example", "com/example", "comp:1"]),
        *((contract.MODEL_VERSION_RULE, n) for n in ["03", "v3", "Latest"]),
        *((contract.COMPONENT_VERSION_RULE, n) for n in ["1234567.0.0", "3.0.x", "3-0-0"]),
    ],
)
def test_an_invalid_name_shows_its_label_value_and_rule(rule: contract.NameRule, name: str) -> None:
    assert rule.problem(name) == f"{rule.label} {name!r} must match {rule.pattern} ({rule.hint})"


@pytest.mark.parametrize(
    ("rule", "value", "shown", "bounds"),
    [
        (PROJECT, "", "''", "1-255"),
        (PROJECT, "a" * 256, repr("a" * 80 + "..."), "1-255"),
        (JOB, "b" * 65, repr("b" * 65), "1-64"),
        (COMPONENT, "c" * 129, repr("c" * 80 + "..."), "1-128"),
    ],
)
def test_a_name_of_the_wrong_length_shows_its_start_its_length_and_the_bounds(
    rule: contract.NameRule, value: str, shown: str, bounds: str
) -> None:
    problem = rule.problem(value)
    assert problem is not None
    assert problem.startswith(f"{rule.label} {shown} is {len(value)} characters long; it must be {bounds} characters")
    assert rule.pattern in problem


def test_a_name_that_is_not_a_string_is_refused_by_type() -> None:
    assert PROJECT.problem(123) == "ProjectName must be a string, got int"


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("team", "vision ünd 2: a_b.c/d=e+f-g@h", None),
        ("k" * 128, "v" * 256, None),
        ("k" * 129, "v", f"tag key {'k' * 80 + '...'!r} is 129 characters long; it must be 1-128"),
        ("k", "v" * 257, f"tag value {'v' * 80 + '...'!r} is 257 characters long; it must be 0-256"),
        ("team", "a|b", "tag value 'a|b' has '|'; use letters, digits, spaces and _ . : / = + - @"),
        ("AWS:team", "v", "tag key 'AWS:team' starts with aws:, which AWS reserves"),
        (1, "v", "tag key must be a string, got int"),
    ],
)
def test_a_tag_is_held_to_the_service_s_rules(key: object, value: object, problem: str | None) -> None:
    assert contract.tag_problem(key, value) == problem


def test_the_default_job_name_is_a_valid_job_name_distinct_for_distinct_components() -> None:
    names = {
        contract.default_job_name(name, version)
        for name in ("com.example.pcb-defects", "com.example.pcb_defects", "com-example-pcb-defects", "x" * 128)
        for version in ("3.0.0", "4.0.0", "999999.999999.999999")
    }
    assert len(names) == 12
    assert [JOB.problem(name) for name in names] == [None] * 12
    # Deployed stacks name their jobs with it: another name for the same component would start a second job.
    assert contract.default_job_name("com.example.pcb-defects", "3.0.0") == "com-example-pcb-defects-3-0-0-a37fcc1e"
    # Letters keep their case, and no dash is left at either end of the readable part, nor doubled before the digest.
    assert contract.default_job_name(".Pcb", "3.0.0") == "Pcb-3-0-0-41935cf6"
    assert contract.default_job_name("a" * 54 + ".b", "3.0.0") == "a" * 54 + "-978f55d2"
    assert contract.default_job_name("X" + "a" * 53 + "X.b", "3.0.0") == "X" + "a" * 53 + "X-7855a816"
    assert len(contract.default_job_name("x" * 128, "3.0.0")) == 64


def test_a_shown_value_is_cut_only_past_its_limit() -> None:
    assert (contract.show("x" * 80), contract.show("x" * 81)) == (repr("x" * 80), repr("x" * 80 + "..."))
    listed, width = list(range(26)), len(repr(list(range(26))))
    assert (contract.show(listed, width), contract.show(listed, width - 1)) == (
        repr(listed),
        repr(listed)[: width - 1] + "...",
    )
