"""The one Lambda function per stack that answers every ModelPackagingJob in it, and the asset it runs."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import (
    Acknowledgment,
    AssetHashType,
    BundlingOptions,
    DockerImage,
    Duration,
    IAnyProducer,
    IListProducer,
    ILocalBundling,
    IResolveContext,
    IStringProducer,
    Lazy,
    Stack,
    Validations,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct, IValidation

import cdk_lookoutvision_packaging_handler
from cdk_lookoutvision_packaging import _model, _vendor
from cdk_lookoutvision_packaging_handler import contract
from cdk_lookoutvision_packaging_handler.waiting import PollBudget

HANDLER_DIR = Path(cdk_lookoutvision_packaging_handler.__file__).resolve().parent
# The handler package keeps its name inside the asset, so its modules import each other the same way everywhere.
HANDLER_PACKAGE = cdk_lookoutvision_packaging_handler.__name__
HANDLER = f"{HANDLER_PACKAGE}.{contract.HANDLER_FUNCTION}"
# The asset's model folder, relative to the function's code root (/var/task in AWS Lambda).
ASSET_MODELS_DIR = contract.MODELS_DIR
LAMBDA_TASK_ROOT = "/var/task"
# The newest Python runtime that the tests can run the asset on: aws-cdk-lib offers python3.14, but no registry that
# the development and CI machines reach installs a 3.14 interpreter, while pyenv carries 3.13 (tests/lambda_runtime.py
# and the MiniStack suite run the asset on it). A test fails when aws-cdk-lib gains a runtime newer than 3.14.
RUNTIME = lambda_.Runtime.PYTHON_3_13
FUNCTION_TIMEOUT = Duration.minutes(15)


@jsii.implements(ILocalBundling)
class _CopyBundler:
    """Builds the asset by copying files: the handler, and the crhelper and service model this package carries.

    No Docker and no network at synth; the inputs are this package's files (a wheel carries pinned copies of crhelper
    and the model), so the asset hash changes only with the package, never with the consumer's environment.
    """

    def try_bundle(self, output_dir: str, *_args: Any, **_kwargs: Any) -> bool:
        build_asset(Path(output_dir))
        return True


def build_asset(output_dir: Path) -> None:
    """Write the Lambda asset's files into ``output_dir``."""
    crhelper_src = _vendor.crhelper_dir()
    package_target = output_dir / HANDLER_PACKAGE
    package_target.mkdir(parents=True, exist_ok=True)
    for source in sorted(HANDLER_DIR.glob("*.py")):
        shutil.copyfile(source, package_target / source.name)
    (output_dir / "crhelper").mkdir(exist_ok=True)
    for source in sorted(crhelper_src.glob("*.py")):
        shutil.copyfile(source, output_dir / "crhelper" / source.name)
    model_target = output_dir / ASSET_MODELS_DIR / _model.MODEL_SUBDIR
    model_target.mkdir(parents=True, exist_ok=True)
    model_source = _model.model_dir()
    for name in _model.MODEL_FILES:
        shutil.copyfile(model_source / name, model_target / name)


def handler_code() -> lambda_.Code:
    return lambda_.Code.from_asset(
        str(HANDLER_DIR),
        # Hash what is uploaded (handler, crhelper, model), not the source folder: a crhelper or model change must
        # change the hash, and caches beside the source (__pycache__, .mypy_cache) must not.
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(
            # Never pulled: local bundling always succeeds. CDK requires an image to be named all the same.
            image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.13"),
            local=_CopyBundler(),
        ),
    )


def _nag_text(resolved: Any) -> str:
    """A resolved ARN as cdk-nag writes it into a finding id: Ref as <Name>, Fn::GetAtt as <Resource.Attribute>."""
    if isinstance(resolved, str):
        return resolved
    if isinstance(resolved, dict) and "Fn::Join" in resolved:
        separator, parts = resolved["Fn::Join"]
        return str(separator).join(_nag_text(part) for part in parts)
    if isinstance(resolved, dict) and "Ref" in resolved:
        return f"<{resolved['Ref']}>"
    if isinstance(resolved, dict) and "Fn::GetAtt" in resolved:
        return f"<{'.'.join(map(str, resolved['Fn::GetAtt']))}>"
    return str(resolved)


@jsii.implements(IStringProducer)
class _Produce:
    """A value computed when the template is written, after every job of the stack has been added."""

    def __init__(self, produce: Any) -> None:
        self._produce = produce

    def produce(self, context: IResolveContext) -> str:
        return str(self._produce())


@jsii.implements(IAnyProducer)
class ProduceAny:
    """Any value computed when the template is written: after aspects such as ``Tags.of()`` have run."""

    def __init__(self, produce: Any) -> None:
        self._produce = produce

    def produce(self, context: IResolveContext) -> Any:
        return self._produce()


@jsii.implements(IListProducer)
class ProduceList:
    """A list of strings computed when the template is written: after aspects such as ``Tags.of()`` have run."""

    def __init__(self, produce: Any) -> None:
        self._produce = produce

    def produce(self, context: IResolveContext) -> list[str]:
        return list(self._produce())


@jsii.implements(IValidation)
class Validate:
    def __init__(self, validate: Any) -> None:
        self._validate = validate

    def validate(self) -> list[str]:
        return list(self._validate())


# Every job must be able to look at its status at least this many times within its wait window, however many jobs
# share the polling budget.
MIN_LOOKS_PER_WINDOW = 4


class JobFunction(Construct):
    """The handler function, its role, its log group and its permission to continue a wait in a new invocation."""

    CONSTRUCT_ID = "LookoutVisionModelPackagingJobHandler"

    @classmethod
    def of(cls, scope: Construct) -> JobFunction:
        """The stack's one instance, created on first use."""
        stack = Stack.of(scope)
        # The construct tree is the one registry, with no cache beside it: the lookup costs about 1.7 ms a job more
        # than a cache on the stack's proxy did, some 0.17 s of a 100-job synth that takes about 15 s of CPU.
        existing = stack.node.try_find_child(cls.CONSTRUCT_ID)
        return existing if isinstance(existing, JobFunction) else cls(stack, cls.CONSTRUCT_ID)

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        # The jobs answered by this function (their paths and how long each may take for its look) and the
        # budgets they asked for: together they set every job's polling pace.
        self._jobs: list[tuple[str, float]] = []
        self._requested_rps: list[float] = []
        self.node.add_validation(Validate(self._budget_problems))
        self.log_group = logs.LogGroup(self, "LogGroup", retention=logs.RetentionDays.ONE_MONTH)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Describes Lookout for Vision model packaging jobs for Custom::LookoutVisionModelPackagingJob",
        )
        # DescribeModelPackagingJob supports no resource types, so "*" is the only resource IAM accepts for it.
        self.role.add_to_policy(iam.PolicyStatement(actions=[contract.DESCRIBE_JOB_ACTION], resources=["*"]))
        default_policy = self.role.node.find_child("DefaultPolicy")
        # For policy-validation plugins such as cdk-nag's AwsSolutions pack: the one wildcard is forced by the service.
        Validations.of(default_policy).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                reason=(
                    "lookoutvision:DescribeModelPackagingJob supports no IAM resource types, so its statement must "
                    'use Resource "*"; it is the policy\'s only wildcard and grants a read-only action'
                ),
            )
        )
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            description="Waits for and gates on Lookout for Vision model packaging jobs (cdk-lookoutvision-packaging)",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=HANDLER,
            code=handler_code(),
            timeout=FUNCTION_TIMEOUT,
            memory_size=128,
            role=self.role,
            log_group=self.log_group,
            # An async retry would answer CloudFormation a second time; the handler answers every request itself.
            retry_attempts=0,
            environment={
                "AWS_DATA_PATH": f"{LAMBDA_TASK_ROOT}/{ASSET_MODELS_DIR}",
                contract.LOG_LEVEL_ENV: "INFO",
                # Uncached: jobs are added after the function, and resolving must always see all of them.
                contract.BUDGET_RPS_ENV: Lazy.uncached_string(_Produce(lambda: f"{self.budget.requests_per_second:g}")),
                contract.BUDGET_JOBS_ENV: Lazy.uncached_string(_Produce(lambda: self.budget.jobs)),
            },
        )
        # cdk-nag's AwsSolutions pack asks for the newest runtime aws-cdk-lib knows (3.14); see RUNTIME for why not.
        Validations.of(self.function).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-L1",
                reason=(
                    "python3.13 is the newest runtime the asset is tested on: no registry that CI reaches installs "
                    "a Python 3.14 interpreter, and a runtime the tests never ran is not declared"
                ),
            )
        )
        # A wait longer than one invocation continues in a new invocation of this function. The statement lives in
        # its own policy: in the role's default policy it would make the function depend on its own ARN.
        self.self_invoke_policy = iam.Policy(
            self,
            "ContinueWaitPolicy",
            roles=[self.role],
            statements=[iam.PolicyStatement(actions=[contract.INVOKE_ACTION], resources=[self.function.function_arn])],
        )

    def allow(self, actions: list[str], resources: list[str], *, wildcard_reason: str | None = None) -> None:
        """Add a statement to the role (``actions`` may be a lazy list). A resource that ends in a wildcard the job
        cannot avoid (an output prefix, every version of a component) is acknowledged for cdk-nag's IAM5 rule, by
        its exact finding id, with ``wildcard_reason``; any other wildcard is still reported."""
        self.role.add_to_principal_policy(iam.PolicyStatement(actions=actions, resources=resources))
        for resource in resources:
            text = _nag_text(Stack.of(self).resolve(resource))
            if not text.endswith("*"):
                continue
            if wildcard_reason is None:
                raise ValueError(f"{text} needs a reason for its wildcard")
            Validations.of(self.role.node.find_child("DefaultPolicy")).acknowledge(
                Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{text}]", reason=wildcard_reason)
            )

    def add_job(self, job: Construct, *, requests_per_second: float | None, window_s: float) -> None:
        """Count ``job`` among those sharing the polling budget; ``window_s`` is the time it has for its looks."""
        self._jobs.append((job.node.path, window_s))
        # A job that gives no budget asks for the default: otherwise one job's larger value would override it.
        self._requested_rps.append(
            contract.DEFAULT_DESCRIBE_BUDGET_RPS if requests_per_second is None else requests_per_second
        )

    @property
    def budget(self) -> PollBudget:
        """The stack's polling budget: the smallest any job asked for (a job that gives none asks for the default),
        shared by all."""
        rps = min(self._requested_rps) if self._requested_rps else contract.DEFAULT_DESCRIBE_BUDGET_RPS
        return PollBudget(rps, max(1, len(self._jobs)))

    def _budget_problems(self) -> list[str]:
        budget = self.budget
        share = budget.share_s
        tight = [(path, window) for path, window in self._jobs if share * MIN_LOOKS_PER_WINDOW > window]
        if not tight:
            return []
        path, window = min(tight, key=lambda item: item[1])
        return [
            f"{budget.jobs} ModelPackagingJobs in this stack share {budget.requests_per_second:g} "
            f"DescribeModelPackagingJob requests per second, so each looks at its job once every {share:.0f} s; "
            f"{path} has {window:.0f} s to wait, room for {int(window // share)} of the {MIN_LOOKS_PER_WINDOW} "
            "looks it needs. Raise "
            "describe_requests_per_second (with the account's quota), lengthen wait_timeout, or split the jobs "
            "across stacks"
        ]
