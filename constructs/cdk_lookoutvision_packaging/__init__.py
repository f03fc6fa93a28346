"""AWS CDK constructs that gate a deployment on an Amazon Lookout for Vision model packaging job."""

from cdk_lookoutvision_packaging.model_packaging_job import RESOURCE_TYPE, ModelPackagingJob

__all__ = ["RESOURCE_TYPE", "ModelPackagingJob"]
