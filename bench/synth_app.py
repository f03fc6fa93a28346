"""One CDK app with N gated jobs, synthesized into a given folder; run in a fresh interpreter by bench.synth.

``python -m bench.synth_app ours|awscr N OUTDIR``

* ``ours``: N ``ModelPackagingJob`` constructs (one shared handler function per stack).
* ``awscr``: N ``custom_resources.AwsCustomResource`` calling LookoutVision describeModelPackagingJob on Create and
  Update, with ``AwsCustomResourcePolicy.from_sdk_calls(resources=ANY_RESOURCE)``, a physical id made from the
  names, and the same five fields exposed with ``get_response_field`` (``output_paths`` limited to them, as anyone
  would do to stay under the 4096-byte response limit).

Both stacks have analytics reporting off, so the templates hold only what the constructs add.
"""

from __future__ import annotations

import sys

import aws_cdk as cdk
from aws_cdk import custom_resources as cr

STACK_NAME = "BenchGate"
PROJECT = "pcb"
GREENGRASS = "ModelPackagingDescription.ModelPackagingOutputDetails.Greengrass"
# The five published fields: what ModelPackagingJob exposes as component_version_arn, component_name,
# component_version, status and model_version.
AWSCR_FIELDS = (
    f"{GREENGRASS}.ComponentVersionArn",
    f"{GREENGRASS}.ComponentName",
    f"{GREENGRASS}.ComponentVersion",
    "ModelPackagingDescription.Status",
    "ModelPackagingDescription.ModelVersion",
)


def job_name(index: int) -> str:
    return f"pcb-v3-x86-{index}"


def add_ours(stack: cdk.Stack, count: int) -> list[str]:
    from cdk_lookoutvision_packaging import ModelPackagingJob

    tokens: list[str] = []
    for index in range(count):
        job = ModelPackagingJob(stack, f"Job{index}", project_name=PROJECT, job_name=job_name(index))
        tokens += [job.component_version_arn, job.component_name, job.component_version, job.status, job.model_version]
    return tokens


def add_awscr(stack: cdk.Stack, count: int) -> list[str]:
    tokens: list[str] = []
    for index in range(count):
        call = cr.AwsSdkCall(
            service="LookoutVision",
            action="describeModelPackagingJob",
            parameters={"ProjectName": PROJECT, "JobName": job_name(index)},
            physical_resource_id=cr.PhysicalResourceId.of(f"{PROJECT}/{job_name(index)}"),
            output_paths=list(AWSCR_FIELDS),
        )
        resource = cr.AwsCustomResource(
            stack,
            f"Job{index}",
            on_create=call,
            on_update=call,
            policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=cr.AwsCustomResourcePolicy.ANY_RESOURCE),
        )
        tokens += [resource.get_response_field(path) for path in AWSCR_FIELDS]
    return tokens


def synth(impl: str, count: int, outdir: str) -> None:
    app = cdk.App(outdir=outdir)
    stack = cdk.Stack(app, STACK_NAME, analytics_reporting=False)
    tokens = add_ours(stack, count) if impl == "ours" else add_awscr(stack, count)
    if len(tokens) != 5 * count:
        raise RuntimeError(f"expected {5 * count} attribute tokens, got {len(tokens)}")
    app.synth()


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in ("ours", "awscr"):
        print("usage: python -m bench.synth_app ours|awscr N OUTDIR", file=sys.stderr)
        return 2
    synth(argv[0], int(argv[1]), argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
