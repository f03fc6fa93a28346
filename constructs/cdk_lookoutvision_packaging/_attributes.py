"""The attributes a consumer reads from a model packaging job, wherever the job lives, and the Greengrass entry."""

from __future__ import annotations

from typing import Any, overload

from aws_cdk import Token
from aws_cdk import aws_greengrassv2 as greengrassv2

# The keys published as stack outputs and SSM parameters, in documented order. StatusMessage and the timestamps are
# left out: they may be empty, and an SSM parameter cannot hold an empty value.
PUBLISHED_KEYS = ("ComponentVersionArn", "ComponentName", "ComponentVersion", "Status", "ModelVersion")
# The output_prefix of ModelPackagingJob.add_outputs and ModelPackagingJobReference.from_stack_output. It is not the
# construct id: a consumer cannot know the producer's construct id, so both sides must default to the same literal.
DEFAULT_OUTPUT_PREFIX = "ModelPackagingJob"


class Attribute:
    """A read-only attribute that reads ``key`` through its owner's ``_attribute``: a token that resolves at deploy
    time."""

    def __init__(self, key: str, doc: str) -> None:
        self.key = key
        self.__doc__ = f"{doc} Resolves at deploy time."

    @overload
    def __get__(self, owner: None, owner_type: type | None = None) -> Attribute: ...

    @overload
    def __get__(self, owner: JobAttributes, owner_type: type | None = None) -> str: ...

    def __get__(self, owner: JobAttributes | None, owner_type: type | None = None) -> Attribute | str:
        return self if owner is None else owner._attribute(self.key)


class JobAttributes:
    """Read-only job attributes backed by whatever ``_attribute`` returns (GetAtt, GetStackOutput, SSM)."""

    _expected_component_name: str | None

    def _attribute(self, key: str) -> str:
        raise NotImplementedError

    def _require_waiting(self, method: str, consequence: str) -> None:
        """Refuse ``method`` unless what backs these attributes waits for the job. A ModelPackagingJob checks its own
        ``wait_for_completion``; a reference was published by add_outputs, publish_parameters or from_job, which each
        made this check already."""

    component_version_arn = Attribute("ComponentVersionArn", "The Greengrass component version ARN the job produced.")

    @property
    def component_name(self) -> str:
        """The Greengrass component name: the ``expected_component_name`` literal when given (checked at deploy
        time), otherwise a token that resolves at deploy time."""
        if self._expected_component_name is not None:
            return self._expected_component_name
        return self._attribute("ComponentName")

    component_version = Attribute("ComponentVersion", "The Greengrass component version, such as 1.0.0.")
    status = Attribute("Status", "The job's status: SUCCEEDED, or with ``wait_for_completion=False`` any status.")
    model_version = Attribute("ModelVersion", "The model version the job packaged.")

    def greengrass_component(self) -> dict[str, Any]:
        """The entry for ``AWS::GreengrassV2::Deployment.Components``: ``{component_name: {componentVersion: ...}}``.

        Merge it into a ``CfnDeployment``'s ``components``. Requires ``expected_component_name``: Components is a
        map keyed by component name, and CloudFormation cannot use Fn::GetAtt (or any other function) as a map key.
        On a ModelPackagingJob it needs ``wait_for_completion=True``, like ``add_outputs``: without waiting, the
        deployment could name an empty component version, or one from a job that FAILED later.
        """
        self._require_waiting(
            "greengrass_component()", "the Greengrass deployment would name a component version that may not exist"
        )
        if self._expected_component_name is None:
            raise ValueError(
                "greengrass_component() needs expected_component_name: AWS::GreengrassV2::Deployment.Components is a "
                "map keyed by component name, and CloudFormation cannot use Fn::GetAtt as a map key, so the name "
                "must be known at synth time. Pass expected_component_name=<the job's ComponentName>; the "
                "deployment then fails if the job produced a different name."
            )
        return {
            self._expected_component_name: greengrassv2.CfnDeployment.ComponentDeploymentSpecificationProperty(
                component_version=self.component_version
            )
        }


def check_literal_component_name(name: str | None) -> None:
    """Refuse a token ``expected_component_name`` where it is given, instead of at synth in greengrass_component()."""
    if name is not None and Token.is_unresolved(name):
        raise ValueError(
            f"expected_component_name {name!r} is a token; it must be a literal known at synth time, because "
            "AWS::GreengrassV2::Deployment.Components is a map keyed by component name and a map key cannot be a "
            "token (greengrass_component() makes that key). Pass the component name as a Python string, from "
            "context or code, not a CfnParameter or another resource's attribute"
        )
