"""ModelPackagingJob: a custom resource that waits for a Lookout for Vision model packaging job and gates on it."""

from __future__ import annotations

import math
import re

import jsii
from aws_cdk import CfnOutput, CustomResource, Duration, ITaggable, Lazy, Stack, TagManager, TagType, Token
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from cdk_lookoutvision_packaging._arguments import check_type
from cdk_lookoutvision_packaging._attributes import (
    DEFAULT_OUTPUT_PREFIX,
    PUBLISHED_KEYS,
    Attribute,
    JobAttributes,
    check_literal_component_name,
)
from cdk_lookoutvision_packaging._provider import JobFunction, ProduceAny, Validate
from cdk_lookoutvision_packaging.packaging import GreengrassPackaging, component_version_arn
from cdk_lookoutvision_packaging_handler import contract
from cdk_lookoutvision_packaging_handler.configuration import Packaging

RESOURCE_TYPE = contract.RESOURCE_TYPE
# The resource type Tags.of() sees for the job's tags: they land on the Greengrass component version it creates.
COMPONENT_RESOURCE_TYPE = "AWS::GreengrassV2::ComponentVersion"
PACKAGING_TAKES = (
    "a GreengrassPackaging(model_version=..., component_name=..., output_bucket=..., target_device=...) from "
    "cdk_lookoutvision_packaging"
)
COMPONENT_NAME_TAKES = "a str, the Greengrass component's name such as com.example.pcb-defects"
DEFAULT_WAIT_TIMEOUT = Duration.seconds(contract.DEFAULT_WAIT_TIMEOUT_S)


@jsii.implements(ITaggable)
class ModelPackagingJob(Construct, JobAttributes):
    """Waits on ``cdk deploy`` for a Lookout for Vision model packaging job and exposes what it produced.

    The deployment fails with the job's own StatusMessage when the job FAILED, so nothing that references these
    attributes (a Greengrass deployment, an output) is created or updated with a model that did not package.

    Taggable like aws-cdk-lib's resources: ``Tags.of()`` on the job or any scope above it tags the Greengrass
    component version that a job with ``packaging`` creates (resource type ``AWS::GreengrassV2::ComponentVersion``
    for ``include_resource_types``/``exclude_resource_types``). A watched job creates nothing to tag.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        project_name: str,
        job_name: str | None = None,
        packaging: GreengrassPackaging | None = None,
        wait_for_completion: bool = True,
        wait_timeout: Duration | None = None,
        expected_component_name: str | None = None,
        describe_requests_per_second: float | None = None,
    ) -> None:
        """
        :param project_name: The Lookout for Vision project that owns the job.
        :param job_name: The model packaging job's name (StartModelPackagingJob's JobName). Required without
            ``packaging``. :default: with ``packaging``, derived from the component name and version (so a new
            component version is a new job, and a new physical id)
        :param packaging: Start the job from the stack: on Create (and on an Update that changes it) the job is
            started with this configuration, or adopted when a job of that name exists with the same configuration,
            then awaited and gated as usual. A job of that name with another configuration fails the deployment.
            ``component_name`` is then ``packaging.component_name``, checked like ``expected_component_name``.
            Delete never deletes the job or the component. :default: watch a job started elsewhere
        :param wait_for_completion: Wait while the job is CREATED or RUNNING, and fail the deployment when it FAILED.
            When False, the resource reports the job's current status at once and never fails on it; such a job is
            no gate, so ``add_outputs``, ``publish_parameters``, ``greengrass_component`` and
            ``ModelPackagingJobReference.from_job`` refuse it. :default: True
        :param wait_timeout: How long to wait before failing the deployment: a whole number of seconds from 1 to
            55 minutes, known at synth time (not a token). :default: 45 minutes
        :param expected_component_name: The Greengrass component name the job produces. When set,
            ``component_name`` is this literal, so it can key ``AWS::GreengrassV2::Deployment.Components``
            (CloudFormation cannot use Fn::GetAtt as a map key), and the deployment fails if the job produced
            another name. It must be a literal: a token (a CfnParameter's value) is refused, since a map key cannot
            be one. :default: no check; ``component_name`` resolves at deploy time
        :param describe_requests_per_second: How many DescribeModelPackagingJob requests per second all the
            ModelPackagingJobs of this stack may make together (one function answers them all). Each job takes an
            equal share: with N jobs and a budget of R, a job looks at its status every N/R to 1.5 N/R seconds (never
            more often than every 2 to 4.5 s), and when N exceeds R the jobs' first looks are spread over N/R
            seconds, so that a stack whose jobs CloudFormation creates at once stays within the budget from the
            start. When jobs of one stack give different values, the smallest applies, and a job that gives none
            counts as asking for the default. Stacks that deploy at the same time in one account and Region each use
            their own budget: keep their sum under the quota.
            :default: 4, which leaves 1 of the account's default quota of 5 requests per second to other callers
        """
        # Every argument is checked before the construct joins the tree, so a refused one leaves nothing behind.
        check_type("project_name", project_name, str, "a str, the Lookout for Vision project's name", optional=False)
        check_type("job_name", job_name, str, "a str, the model packaging job's name", optional=True)
        check_type("packaging", packaging, GreengrassPackaging, PACKAGING_TAKES, optional=True)
        check_type("wait_for_completion", wait_for_completion, bool, "True or False", optional=False)
        check_type("wait_timeout", wait_timeout, Duration, "a Duration such as Duration.minutes(30)", optional=True)
        check_type("expected_component_name", expected_component_name, str, COMPONENT_NAME_TAKES, optional=True)
        check_type(
            "describe_requests_per_second",
            describe_requests_per_second,
            (int, float),
            "a number of requests per second such as 4",
            optional=True,
        )
        check_literal_component_name(expected_component_name)
        _check_name(contract.PROJECT_NAME_RULE, "project_name", project_name)
        started = packaging._validated() if packaging is not None else None
        if started is not None:
            if expected_component_name is not None:
                raise ValueError(
                    "expected_component_name goes without packaging: with packaging the component is "
                    f"packaging.component_name ({started.component_name!r}), which the deployment checks"
                )
            expected_component_name = started.component_name
            if job_name is None:
                job_name = contract.default_job_name(started.component_name, str(started.component_version))
        if job_name is None:
            raise ValueError(
                "job_name is required: name the model packaging job to wait for, or give packaging= to start one "
                "(its name is then derived from the component name and version)"
            )
        _check_name(contract.JOB_NAME_RULE, "job_name", job_name)
        if expected_component_name is not None:
            _check_name(contract.COMPONENT_NAME_RULE, "expected_component_name", expected_component_name)
        timeout_s = _wait_timeout_seconds(wait_timeout if wait_timeout is not None else DEFAULT_WAIT_TIMEOUT)
        _check_rate(describe_requests_per_second)
        if started is not None:
            created = _stack_registry(Stack.of(scope), "_lookoutvision_component_versions")
            component_key = f"{started.component_name}:{started.component_version}"
            if component_key in created:
                path = f"{scope.node.path}/{id}".lstrip("/")
                raise ValueError(_same_component_version(path, created[component_key], started, job_name))
        super().__init__(scope, id)
        if started is not None:
            created[component_key] = self.node.path
        self._tags = TagManager(TagType.MAP, COMPONENT_RESOURCE_TYPE)
        self._packaging_tags = dict(packaging.tags or {}) if packaging is not None else {}
        self._expected_component_name = expected_component_name
        self._wait_for_completion = wait_for_completion
        self._output_prefix: str | None = None
        handler = JobFunction.of(self)
        handler.add_job(
            self,
            requests_per_second=describe_requests_per_second,
            window_s=timeout_s if wait_for_completion else contract.NO_WAIT_SERVICE_TIMEOUT_S,
        )
        properties: dict[str, object] = {
            contract.PROJECT_NAME: project_name,
            contract.JOB_NAME: job_name,
            contract.WAIT_FOR_COMPLETION: wait_for_completion,
            contract.WAIT_TIMEOUT_SECONDS: timeout_s,
        }
        if started is not None and packaging is not None:
            properties[contract.PACKAGING] = self._packaging_property(started)
            packaging._grant(handler, self, project_name, started, tagged=lambda: bool(self._component_tags()))
            # Tags.of() adds its tags at synth, after this constructor: they are checked once the tree is final.
            self.node.add_validation(Validate(self._tag_problems))
        elif expected_component_name is not None:
            properties[contract.EXPECTED_COMPONENT_NAME] = expected_component_name
            if wait_for_completion:
                # The deployment passes on only a component version that Greengrass can deploy.
                handler.allow(
                    [contract.DESCRIBE_COMPONENT_ACTION],
                    [component_version_arn(Stack.of(self), expected_component_name, None)],
                    wildcard_reason="the job names its component version only when it succeeds: DescribeComponent "
                    "on every version of the one component the job is expected to produce",
                )
        self._properties = properties
        self._resource = CustomResource(
            self,
            "Resource",
            service_token=handler.function.function_arn,
            resource_type=RESOURCE_TYPE,
            properties=properties,
            service_timeout=Duration.seconds(
                timeout_s + contract.SERVICE_TIMEOUT_AFTER_WAIT_S
                if wait_for_completion
                else contract.NO_WAIT_SERVICE_TIMEOUT_S
            ),
        )
        # The first request may need to continue in a new invocation: that permission must exist by then.
        self._resource.node.add_dependency(handler.self_invoke_policy)

    @property
    def resource(self) -> CustomResource:
        """The underlying ``Custom::LookoutVisionModelPackagingJob`` resource."""
        return self._resource

    @property
    def tags(self) -> TagManager:
        """Tags of the Greengrass component version the job creates, as ``Tags.of()`` sets them; ``packaging.tags``
        win on the same key. Used only with ``packaging``."""
        return self._tags

    def _component_tags(self) -> dict[str, str]:
        return {**self._tags.tag_values(), **self._packaging_tags}

    def _packaging_property(self, started: Packaging) -> dict[str, object]:
        """The Packaging property, its Configuration.Greengrass.Tags resolved when the template is written (after
        Tags.of() has run) and left out when there are none."""
        greengrass = {key: value for key, value in started.greengrass.items() if key != "Tags"}
        greengrass["Tags"] = Lazy.uncached_any(
            ProduceAny(lambda: [{"Key": k, "Value": v} for k, v in sorted(self._component_tags().items())]),
            omit_empty_array=True,
        )
        value = started.as_property()
        value["Configuration"] = {"Greengrass": greengrass}
        return value

    def _tag_problems(self) -> list[str]:
        tags = self._component_tags()
        source = "Tags.of() and packaging.tags"
        problems = []
        if len(tags) > contract.MAX_TAGS:
            problems.append(
                f"the Greengrass component gets {len(tags)} tags ({source}); the service allows at most "
                f"{contract.MAX_TAGS}: exclude AWS::GreengrassV2::ComponentVersion from some Tags.of() calls"
            )
        for key, value in sorted(tags.items()):
            if Token.is_unresolved(key) or Token.is_unresolved(value):
                continue
            problem = contract.tag_problem(key, value)
            if problem:
                problems.append(f"a tag of the Greengrass component ({source}): {problem}")
        return problems

    def _attribute(self, key: str) -> str:
        return self._resource.get_att_string(key)

    status_message = Attribute("StatusMessage", "The job's StatusMessage (may be empty).")
    creation_timestamp = Attribute("CreationTimestamp", "When the job was created, ISO 8601 UTC.")
    last_updated_timestamp = Attribute("LastUpdatedTimestamp", "When the job last changed, ISO 8601 UTC.")

    def add_outputs(
        self, *, output_prefix: str | None = None, export_prefix: str | None = None
    ) -> dict[str, CfnOutput]:
        """Add stack outputs for ComponentVersionArn, ComponentName, ComponentVersion, Status and ModelVersion.

        Call it once per job. It needs ``wait_for_completion=True``, like ``publish_parameters``.

        :param output_prefix: Prefix of the outputs' logical ids, which are ``<prefix><Key>``; consumers address
            outputs by these names. The default does not depend on the construct id, so that it is also the default of
            ``ModelPackagingJobReference.from_stack_output``: ``ModelPackagingJobComponentVersionArn``,
            ``ModelPackagingJobComponentName``, ``ModelPackagingJobComponentVersion``, ``ModelPackagingJobStatus``
            and ``ModelPackagingJobModelVersion``. Each job of a stack needs its own prefix: a second job with the
            same one is refused. :default: "ModelPackagingJob"
        :param export_prefix: When given, each output is also exported as ``<export_prefix>-<Key>`` for
            Fn::ImportValue. Exports lock the producer: prefer ``ModelPackagingJobReference.from_stack_output``.
            :default: no exports
        :returns: the outputs by key
        """
        check_type("output_prefix", output_prefix, str, "a str of letters and digits such as PcbArm", optional=True)
        check_type("export_prefix", export_prefix, str, "a str such as pcb-arm-model", optional=True)
        self._require_waiting("add_outputs()", "what reads the outputs would deploy with empty values")
        prefix = output_prefix if output_prefix is not None else DEFAULT_OUTPUT_PREFIX
        if not re.fullmatch(r"[A-Za-z0-9]*", prefix):
            raise ValueError(f"output_prefix {prefix!r} must contain only letters and digits (it prefixes logical ids)")
        if self._output_prefix is not None:
            raise ValueError(
                f"add_outputs() was already called on {self.node.path} (output_prefix {self._output_prefix!r}); call "
                "it once per job, and read the outputs it returned"
            )
        self._claim_output_ids(prefix, defaulted=output_prefix is None)
        self._output_prefix = prefix
        outputs: dict[str, CfnOutput] = {}
        for key in PUBLISHED_KEYS:
            output = CfnOutput(
                self,
                f"{key}Output",
                value=self._attribute(key),
                description=f"{key} of Lookout for Vision model packaging job {self._describe_job()}",
                export_name=f"{export_prefix}-{key}" if export_prefix else None,
            )
            output.override_logical_id(f"{prefix}{key}")
            outputs[key] = output
        return outputs

    def publish_parameters(self, parameter_prefix: str) -> dict[str, ssm.StringParameter]:
        """Publish the attributes as SSM String parameters named ``<parameter_prefix>/<Key>``.

        Keys: ComponentVersionArn, ComponentName, ComponentVersion, Status, ModelVersion. Read them back in any stack,
        account-local and Region-local, with ``ModelPackagingJobReference.from_parameters``.

        :param parameter_prefix: A path such as ``/lookoutvision/pcb/pcb-v3-x86``: starts with "/", no trailing "/".
        """
        check_parameter_prefix(parameter_prefix)
        self._require_waiting("publish_parameters()", "SSM parameters cannot hold an empty value")
        parameters: dict[str, ssm.StringParameter] = {}
        for key in PUBLISHED_KEYS:
            parameters[key] = ssm.StringParameter(
                self,
                f"{key}Parameter",
                parameter_name=f"{parameter_prefix}/{key}",
                string_value=self._attribute(key),
                description=f"{key} of Lookout for Vision model packaging job {self._describe_job()}",
            )
        return parameters

    def _require_waiting(self, method: str, consequence: str) -> None:
        # Published values are what consumers deploy with; without waiting they may be empty or come from a job that
        # FAILED later, which is what the gate exists to prevent.
        if not self._wait_for_completion:
            raise ValueError(
                f"{method} on {self.node.path} needs wait_for_completion=True: without waiting, the job may have no "
                f"output yet, so ComponentVersionArn, ComponentName, ComponentVersion and ModelVersion can be empty "
                f"and {consequence}. Create the job with wait_for_completion=True, or read job.status directly"
            )

    def _claim_output_ids(self, prefix: str, *, defaulted: bool) -> None:
        """Reserve this job's output logical ids in its stack, refusing ids another job of the stack already has."""
        stack = Stack.of(self)
        # Outputs override their logical ids, so CDK itself only notices a clash when it writes the template, with a
        # bare "already contains".
        claimed = _stack_registry(stack, "_lookoutvision_output_ids")
        ids = [f"{prefix}{key}" for key in PUBLISHED_KEYS]
        taken = [(logical_id, claimed[logical_id]) for logical_id in ids if logical_id in claimed]
        if taken:
            logical_id, owner = taken[0]
            which = f"the default output_prefix {prefix!r}" if defaulted else f"output_prefix {prefix!r}"
            raise ValueError(
                f"add_outputs() on {self.node.path}: {which} gives the output {logical_id}, which {owner} already "
                f"publishes in stack {stack.node.path}. Each job of a stack needs its own output_prefix (letters and "
                "digits): pass add_outputs(output_prefix=...) for this job, and the same output_prefix to "
                "ModelPackagingJobReference.from_stack_output()"
            )
        claimed.update(dict.fromkeys(ids, self.node.path))

    def _describe_job(self) -> str:
        properties = self._properties
        project, job = properties[contract.PROJECT_NAME], properties[contract.JOB_NAME]
        if isinstance(project, str) and isinstance(job, str) and not Token.is_unresolved(project + job):
            return f"{project}/{job}"
        return self.node.path


def _stack_registry(stack: Stack, name: str) -> dict[str, str]:
    """What the jobs of ``stack`` claimed (output ids, component versions), each with the claiming job's path.

    Kept on the stack's Python object, which jsii returns for every lookup of the stack: a claim is refused when it
    is made, naming both jobs, rather than when the template is written."""
    registry: dict[str, str] | None = getattr(stack, name, None)
    if registry is None:
        registry = {}
        setattr(stack, name, registry)
    return registry


def _same_component_version(path: str, owner: str, started: Packaging, job_name: str) -> str:
    version = str(started.component_version)
    major, minor, patch = version.split(".")
    shared = (
        f", under one job name ({job_name}) and one physical id"
        if job_name == contract.default_job_name(started.component_name, version)
        else ""
    )
    return (
        f"{path} and {owner} both create Greengrass component {started.component_name} version {version}{shared}; "
        "the service creates a component version once, so the two cannot both be packaged. When one model is "
        "packaged for several targets (such as x86_64 and arm64), each target needs its own component_name or "
        f"component_version in its GreengrassPackaging: for example component_version='{major}.{int(minor) + 1}."
        f"{patch}', or component_name='{started.component_name}-arm64'"
    )


def check_parameter_prefix(prefix: str) -> None:
    """Validate an SSM parameter path prefix, which must be known at synth time."""
    check_type(
        "parameter_prefix",
        prefix,
        str,
        "a str, an SSM parameter path such as /lookoutvision/pcb/pcb-v3-x86",
        optional=False,
    )
    if Token.is_unresolved(prefix):
        # CDK needs a literal name to build the parameters' ARNs, and a consumer reads each parameter through a
        # CloudFormation parameter whose Default cannot hold an intrinsic function.
        raise ValueError(
            f"parameter_prefix {prefix!r} is a token; it must be a literal path known at synth time, such as "
            "/lookoutvision/pcb/pcb-v3-x86, because the parameter names, their ARNs and the consumer's reads are "
            "built from it at synth time. Build the prefix from context or other Python values, not from a "
            "CfnParameter or another resource's attribute"
        )
    if not re.fullmatch(r"(/[a-zA-Z0-9_.\-]+)+", prefix) or len(prefix) > 1000:
        raise ValueError(
            f"parameter_prefix {prefix!r} must be a path like /lookoutvision/pcb/job-1: it starts with '/', has no "
            "trailing '/', uses letters, digits, '_', '.', '-' between slashes, and is at most 1000 characters"
        )


MIN_DESCRIBE_RPS, MAX_DESCRIBE_RPS = contract.DESCRIBE_BUDGET_RPS_RANGE


def _wait_timeout_seconds(timeout: Duration) -> int:
    """The wait timeout in whole seconds, or a ValueError saying what is wrong with it."""
    if timeout.is_unresolved():
        raise ValueError(
            "wait_timeout is a token, which is not supported: it must be known at synth time because it sets the "
            "custom resource's ServiceTimeout and the polling budget check. Pass a literal such as "
            "Duration.minutes(30), between 1 and 55 minutes"
        )
    seconds = timeout.to_seconds(integral=False)
    if not float(seconds).is_integer():
        raise ValueError(
            f"wait_timeout is {timeout.to_human_string()} ({seconds:g} s); it must be a whole number of seconds "
            f"between 1 and 55 minutes: pass Duration.seconds({math.floor(seconds)}) or Duration.minutes(n)"
        )
    if not contract.MIN_WAIT_TIMEOUT_S <= seconds <= contract.MAX_WAIT_TIMEOUT_S:
        raise ValueError(
            f"wait_timeout is {timeout.to_human_string()}; it must be between 1 and 55 minutes so that the "
            "handler answers before CloudFormation's 60-minute custom resource limit"
        )
    return int(seconds)


def _check_rate(value: float | None) -> None:
    if value is None:
        return
    # Finite first: a NaN or an infinity cannot cross into jsii (its JSON has no such numbers).
    if math.isfinite(value) and Token.is_unresolved(value):
        raise ValueError(
            "describe_requests_per_second must be a number known at synth time, not a token: it sets how often "
            "every job of the stack polls"
        )
    if not math.isfinite(value) or not MIN_DESCRIBE_RPS <= value <= MAX_DESCRIBE_RPS:
        raise ValueError(
            f"describe_requests_per_second is {value!r}; it must be between {MIN_DESCRIBE_RPS:g} and "
            f"{MAX_DESCRIBE_RPS:g} requests per second, and at most the account's DescribeModelPackagingJob quota "
            "(5 by default)"
        )


def _check_name(rule: contract.NameRule, parameter: str, value: str) -> None:
    if isinstance(value, str) and Token.is_unresolved(value):
        return  # resolved at deploy time; the handler validates it then
    problem = rule.problem(value)
    if problem:
        raise ValueError(f"{parameter}: {problem}")
