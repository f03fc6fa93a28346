"""What the construct tests share: finding the one resource of a type, by default the job's custom resource."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from cdk_lookoutvision_packaging_handler.contract import RESOURCE_TYPE

Only = Callable[..., tuple[str, dict[str, Any]]]


@pytest.fixture(scope="session")
def only() -> Only:
    """``only(stack_or_template, resource_type=the custom resource type)``: the logical id and the body of the one
    resource of that type in a stack, a Template or a template's JSON."""

    def find(source: cdk.Stack | Template | dict[str, Any], resource_type: str = RESOURCE_TYPE) -> Any:
        template = Template.from_stack(source) if isinstance(source, cdk.Stack) else source
        resources = (template.to_json() if isinstance(template, Template) else template)["Resources"]
        found = [(k, v) for k, v in resources.items() if v["Type"] == resource_type]
        assert len(found) == 1, f"expected exactly one {resource_type}, got {[k for k, _ in found]}"
        return found[0]

    return find
