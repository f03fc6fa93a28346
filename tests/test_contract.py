"""contract: the wire values deployed stacks rely on, pinned once, and the Lookout for Vision naming rules that the
construct, the handler and the CLI all validate with (each of them is tested for applying a rule, not for its
contents)."""

from __future__ import annotations

import pytest
from support import EXPECTED_DATA_KEYS

from model_packaging_job import contract


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
    # The Data keys (the construct's attributes) are the tests' own list, written once in support.
    assert sorted(contract.DATA_KEYS) == sorted(EXPECTED_DATA_KEYS)
    assert contract.OUTPUT_KEYS == ("ComponentVersionArn", "ComponentName", "ComponentVersion")
    assert (contract.BUDGET_RPS_ENV, contract.BUDGET_JOBS_ENV, contract.LOG_LEVEL_ENV) == (
        "DESCRIBE_BUDGET_RPS",
        "DESCRIBE_BUDGET_JOBS",
        "LOG_LEVEL",
    )


# --- the naming rules ----------------------------------------------------------------------------------------------

PROJECT, JOB, COMPONENT = contract.PROJECT_NAME_RULE, contract.JOB_NAME_RULE, contract.COMPONENT_NAME_RULE


@pytest.mark.parametrize(
    ("rule", "name"),
    [
        *((PROJECT, n) for n in ["p", "pcb", "PCB_line-2", "0abc", "7", "a" * 255, "a-_-_"]),
        *((JOB, n) for n in ["j", "pcb-v3-x86", "ABC-123", "a" * 64, "-leading-dash"]),
        *((COMPONENT, n) for n in ["com.example.pcb-defects", "a", "A_b.c-d", "x" * 128]),
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
