"""ModelPackagingJob: a custom resource that waits for a Lookout for Vision model packaging job and gates on it."""

from __future__ import annotations

from aws_cdk import CustomResource, Duration, Token
from constructs import Construct

from cdk_lookoutvision_packaging._handler import packaging_job as pj
from cdk_lookoutvision_packaging._provider import JobFunction

RESOURCE_TYPE = "Custom::LookoutVisionModelPackagingJob"
DEFAULT_WAIT_TIMEOUT = Duration.minutes(45)
MIN_WAIT_TIMEOUT_S = 60
MAX_WAIT_TIMEOUT_S = 55 * 60
# CloudFormation gives up on the custom resource this long after our own wait_timeout would have answered.
SERVICE_TIMEOUT_MARGIN = Duration.minutes(5)
NO_WAIT_SERVICE_TIMEOUT = Duration.minutes(5)


class ModelPackagingJob(Construct):
    """Waits on ``cdk deploy`` for a Lookout for Vision model packaging job and exposes what it produced.

    The deployment fails with the job's own StatusMessage when the job FAILED, so nothing that references these
    attributes (a Greengrass deployment, an output) is created or updated with a model that did not package.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        project_name: str,
        job_name: str,
        wait_for_completion: bool = True,
        wait_timeout: Duration | None = None,
        expected_component_name: str | None = None,
    ) -> None:
        """
        :param project_name: The Lookout for Vision project that owns the job.
        :param job_name: The model packaging job's name (StartModelPackagingJob's JobName).
        :param wait_for_completion: Wait while the job is CREATED or RUNNING, and fail the deployment when it FAILED.
            When False, the resource reports the job's current status at once and never fails on it.
            :default: True
        :param wait_timeout: How long to wait before failing the deployment; 1 to 55 minutes.
            :default: 45 minutes
        :param expected_component_name: The Greengrass component name the job produces. When set,
            ``component_name`` is this literal, so it can key ``AWS::GreengrassV2::Deployment.Components``
            (CloudFormation cannot use Fn::GetAtt as a map key), and the deployment fails if the job produced
            another name. :default: no check; ``component_name`` resolves at deploy time
        """
        super().__init__(scope, id)
        _check_name(pj.PROJECT_NAME_RULE, "project_name", project_name)
        _check_name(pj.JOB_NAME_RULE, "job_name", job_name)
        if expected_component_name is not None:
            _check_name(pj.COMPONENT_NAME_RULE, "expected_component_name", expected_component_name)
        timeout = wait_timeout if wait_timeout is not None else DEFAULT_WAIT_TIMEOUT
        timeout_s = int(timeout.to_seconds())
        if not MIN_WAIT_TIMEOUT_S <= timeout_s <= MAX_WAIT_TIMEOUT_S:
            raise ValueError(
                f"wait_timeout is {timeout.to_human_string()}; it must be between 1 and 55 minutes so that the "
                "handler answers before CloudFormation's 60-minute custom resource limit"
            )
        self._expected_component_name = expected_component_name
        handler = JobFunction.of(self)
        properties: dict[str, object] = {
            "ProjectName": project_name,
            "JobName": job_name,
            "WaitForCompletion": wait_for_completion,
            "WaitTimeoutSeconds": timeout_s,
        }
        if expected_component_name is not None:
            properties["ExpectedComponentName"] = expected_component_name
        self._resource = CustomResource(
            self,
            "Resource",
            service_token=handler.function.function_arn,
            resource_type=RESOURCE_TYPE,
            properties=properties,
            service_timeout=(
                Duration.seconds(timeout_s + SERVICE_TIMEOUT_MARGIN.to_seconds())
                if wait_for_completion
                else NO_WAIT_SERVICE_TIMEOUT
            ),
        )
        # The first request may need to continue in a new invocation: that permission must exist by then.
        self._resource.node.add_dependency(handler.self_invoke_policy)

    @property
    def resource(self) -> CustomResource:
        """The underlying ``Custom::LookoutVisionModelPackagingJob`` resource."""
        return self._resource

    def _att(self, name: str) -> str:
        return Token.as_string(self._resource.get_att(name))

    @property
    def component_version_arn(self) -> str:
        """The Greengrass component version ARN the job produced. Resolves at deploy time."""
        return self._att("ComponentVersionArn")

    @property
    def component_name(self) -> str:
        """The Greengrass component name: the ``expected_component_name`` literal when given (checked at deploy
        time), otherwise a token that resolves at deploy time."""
        if self._expected_component_name is not None:
            return self._expected_component_name
        return self._att("ComponentName")

    @property
    def component_version(self) -> str:
        """The Greengrass component version, such as 1.0.0. Resolves at deploy time."""
        return self._att("ComponentVersion")

    @property
    def status(self) -> str:
        """The job's status at deploy time: SUCCEEDED, or with ``wait_for_completion=False`` any status."""
        return self._att("Status")

    @property
    def status_message(self) -> str:
        """The job's StatusMessage (may be empty). Resolves at deploy time."""
        return self._att("StatusMessage")

    @property
    def model_version(self) -> str:
        """The model version the job packaged. Resolves at deploy time."""
        return self._att("ModelVersion")

    @property
    def creation_timestamp(self) -> str:
        """When the job was created, ISO 8601 UTC. Resolves at deploy time."""
        return self._att("CreationTimestamp")

    @property
    def last_updated_timestamp(self) -> str:
        """When the job last changed, ISO 8601 UTC. Resolves at deploy time."""
        return self._att("LastUpdatedTimestamp")


def _check_name(rule: pj.NameRule, parameter: str, value: object) -> None:
    if isinstance(value, str) and Token.is_unresolved(value):
        return  # resolved at deploy time; the handler validates it then
    problem = rule.problem(value)
    if problem:
        raise ValueError(f"{parameter}: {problem}")
