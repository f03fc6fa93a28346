#!/usr/bin/env python3
"""The example CDK app: a gate stack that waits for a Lookout for Vision model packaging job on `cdk deploy`.

Names come from context (cdk.json holds the defaults); override them with `cdk synth -c projectName=... -c jobName=...`.
"""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from cdk_lookoutvision_packaging import ModelPackagingJob


class ModelGateStack(cdk.Stack):
    """Fails the deployment unless the packaging job SUCCEEDED, and publishes what it produced."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        project_name: str,
        job_name: str,
        expected_component_name: str | None = None,
        wait_timeout: cdk.Duration | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.job = ModelPackagingJob(
            self,
            "ModelPackagingJob",
            project_name=project_name,
            job_name=job_name,
            expected_component_name=expected_component_name,
            wait_timeout=wait_timeout,
        )
        cdk.CfnOutput(
            self,
            "ComponentVersionArn",
            value=self.job.component_version_arn,
            description="Greengrass component version ARN produced by the model packaging job",
        )
        cdk.CfnOutput(self, "Status", value=self.job.status, description="Status of the model packaging job")


def _context(app: cdk.App, key: str) -> str | None:
    value = app.node.try_get_context(key)
    return None if value in (None, "") else str(value)


def build_app(app: cdk.App | None = None) -> cdk.App:
    app = app or cdk.App()
    project_name = _context(app, "projectName")
    job_name = _context(app, "jobName")
    if not project_name or not job_name:
        raise SystemExit("Set the context values projectName and jobName (cdk.json holds defaults; -c overrides them)")
    timeout = _context(app, "waitTimeoutMinutes")
    ModelGateStack(
        app,
        "LookoutVisionModelGate",
        project_name=project_name,
        job_name=job_name,
        expected_component_name=_context(app, "expectedComponentName"),
        wait_timeout=cdk.Duration.minutes(int(timeout)) if timeout else None,
        description="Gates deployments on an Amazon Lookout for Vision model packaging job (cdk-lookoutvision-packaging)",
    )
    return app


if __name__ == "__main__":
    build_app().synth()
