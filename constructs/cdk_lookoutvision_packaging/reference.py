"""ModelPackagingJobReference: read a model packaging job's attributes from wherever the gate lives."""

from __future__ import annotations

import re
from collections.abc import Callable

from aws_cdk import Fn, Stack, Token
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from cdk_lookoutvision_packaging._arguments import check_type
from cdk_lookoutvision_packaging._attributes import (
    DEFAULT_OUTPUT_PREFIX,
    PUBLISHED_KEYS,
    JobAttributes,
    check_literal_component_name,
)
from cdk_lookoutvision_packaging.model_packaging_job import (
    COMPONENT_NAME_TAKES,
    ModelPackagingJob,
    check_parameter_prefix,
)
from cdk_lookoutvision_packaging_handler import contract


class ModelPackagingJobReference(Construct, JobAttributes):
    """A consumer-side view of a ModelPackagingJob: ``component_version_arn``, ``component_name``,
    ``component_version``, ``status``, ``model_version`` and ``greengrass_component()``, whatever backs them.

    Build it with one of the ``from_*`` methods; consumer code then does not care where the job lives.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        read: Callable[[str], str],
        expected_component_name: str | None = None,
    ) -> None:
        check_type("read", read, Callable, "a function from a published key to its value", optional=False)  # type: ignore[arg-type]
        check_type("expected_component_name", expected_component_name, str, COMPONENT_NAME_TAKES, optional=True)
        check_literal_component_name(expected_component_name)
        if expected_component_name is not None:
            problem = contract.COMPONENT_NAME_RULE.problem(expected_component_name)
            if problem:
                raise ValueError(f"expected_component_name: {problem}")
        super().__init__(scope, id)
        self._read = read
        self._expected_component_name = expected_component_name

    def _attribute(self, key: str) -> str:
        if key not in PUBLISHED_KEYS:
            raise AttributeError(f"{key} is not published by ModelPackagingJob.add_outputs or publish_parameters")
        return self._read(key)

    @classmethod
    def from_job(cls, scope: Construct, id: str, job: ModelPackagingJob) -> ModelPackagingJobReference:
        """Reference a job of this CDK app, in this or another stack.

        Across stacks of one app, CDK turns the attributes into an export and Fn::ImportValue and orders the stacks;
        within one stack they are plain Fn::GetAtt. Either way, what reads them is created only after the gate passed.
        Like ``add_outputs``, it needs the job to have ``wait_for_completion=True``.
        """
        check_type("job", job, ModelPackagingJob, "a ModelPackagingJob of this app", optional=False)
        job._require_waiting("ModelPackagingJobReference.from_job()", "what reads the reference would deploy with them")
        return cls(
            scope,
            id,
            read=lambda key: str(getattr(job, _PROPERTY_BY_KEY[key])),
            expected_component_name=job._expected_component_name,
        )

    @classmethod
    def from_stack_output(
        cls,
        scope: Construct,
        id: str,
        *,
        stack_name: str,
        output_prefix: str = DEFAULT_OUTPUT_PREFIX,
        region: str | None = None,
        role_arn: str | None = None,
        expected_component_name: str | None = None,
    ) -> ModelPackagingJobReference:
        """Read the outputs that ``ModelPackagingJob.add_outputs`` published, with Fn::GetStackOutput.

        No export is involved, so the producing stack stays free to change and be replaced (no "Export ... cannot be
        updated as it is in use"), and the producer may live in another account or Region.

        :param stack_name: The producing stack's name.
        :param output_prefix: The ``output_prefix`` the producer passed to ``add_outputs``; both default to the same
            value, whatever the producer's construct id. :default: "ModelPackagingJob"
        :param region: The producer's Region. :default: this stack's Region
        :param role_arn: A role CloudFormation assumes to read another account's stack. :default: none
        :param expected_component_name: The literal component name, needed for ``greengrass_component()`` (a
            token is refused: it keys the Greengrass deployment's Components map). :default: none; ``component_name``
            reads the output
        """
        check_type("stack_name", stack_name, str, "a str, the producing stack's name", optional=False)
        check_type("output_prefix", output_prefix, str, "a str of letters and digits such as PcbArm", optional=False)
        check_type("region", region, str, "a str, a Region such as eu-west-1", optional=True)
        check_type("role_arn", role_arn, str, "a str, an IAM role ARN", optional=True)
        if not Token.is_unresolved(output_prefix) and not re.fullmatch(r"[A-Za-z0-9]*", output_prefix):
            raise ValueError(f"output_prefix {output_prefix!r} must contain only letters and digits")
        if not Token.is_unresolved(stack_name) and not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,127}", stack_name):
            raise ValueError(
                f"stack_name {stack_name!r} is not a CloudFormation stack name: letters, digits and '-', "
                "starting with a letter, at most 128 characters"
            )
        return cls(
            scope,
            id,
            read=lambda key: Fn.get_stack_output(stack_name, f"{output_prefix}{key}", region=region, role_arn=role_arn),
            expected_component_name=expected_component_name,
        )

    @classmethod
    def from_parameters(
        cls,
        scope: Construct,
        id: str,
        *,
        parameter_prefix: str,
        expected_component_name: str | None = None,
    ) -> ModelPackagingJobReference:
        """Read the SSM parameters that ``ModelPackagingJob.publish_parameters`` wrote (same account and Region).

        Each value is resolved by CloudFormation at deploy time (an ``AWS::SSM::Parameter::Value<String>`` parameter).
        """
        check_parameter_prefix(parameter_prefix)
        reference: ModelPackagingJobReference | None = None

        def read(key: str) -> str:
            assert reference is not None
            return ssm.StringParameter.value_for_string_parameter(reference, f"{parameter_prefix}/{key}")

        reference = cls(scope, id, read=read, expected_component_name=expected_component_name)
        return reference

    @property
    def stack(self) -> Stack:
        return Stack.of(self)


_PROPERTY_BY_KEY = {
    "ComponentVersionArn": "component_version_arn",
    "ComponentName": "component_name",
    "ComponentVersion": "component_version",
    "Status": "status",
    "ModelVersion": "model_version",
}
