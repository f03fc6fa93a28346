"""The attributes a consumer reads from a model packaging job, wherever the job lives, and the Greengrass entry."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_greengrassv2 as greengrassv2

# The keys published as stack outputs and SSM parameters, in documented order. StatusMessage and the timestamps are
# left out: they may be empty, and an SSM parameter cannot hold an empty value.
PUBLISHED_KEYS = ("ComponentVersionArn", "ComponentName", "ComponentVersion", "Status", "ModelVersion")
# The output_prefix of ModelPackagingJob.add_outputs and ModelPackagingJobReference.from_stack_output. It is not the
# construct id: a consumer cannot know the producer's construct id, so both sides must default to the same literal.
DEFAULT_OUTPUT_PREFIX = "ModelPackagingJob"


class JobAttributes:
    """Read-only job attributes backed by whatever ``_attribute`` returns (GetAtt, GetStackOutput, SSM)."""

    _expected_component_name: str | None

    def _attribute(self, key: str) -> str:
        raise NotImplementedError

    @property
    def component_version_arn(self) -> str:
        """The Greengrass component version ARN the job produced. Resolves at deploy time."""
        return self._attribute("ComponentVersionArn")

    @property
    def component_name(self) -> str:
        """The Greengrass component name: the ``expected_component_name`` literal when given (checked at deploy
        time), otherwise a token that resolves at deploy time."""
        if self._expected_component_name is not None:
            return self._expected_component_name
        return self._attribute("ComponentName")

    @property
    def component_version(self) -> str:
        """The Greengrass component version, such as 1.0.0. Resolves at deploy time."""
        return self._attribute("ComponentVersion")

    @property
    def status(self) -> str:
        """The job's status at deploy time: SUCCEEDED, or with ``wait_for_completion=False`` any status."""
        return self._attribute("Status")

    @property
    def model_version(self) -> str:
        """The model version the job packaged. Resolves at deploy time."""
        return self._attribute("ModelVersion")

    def greengrass_component(self) -> dict[str, Any]:
        """The entry for ``AWS::GreengrassV2::Deployment.Components``: ``{component_name: {componentVersion: ...}}``.

        Merge it into a ``CfnDeployment``'s ``components``. Requires ``expected_component_name``: Components is a
        map keyed by component name, and CloudFormation cannot use Fn::GetAtt (or any other function) as a map key.
        """
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
