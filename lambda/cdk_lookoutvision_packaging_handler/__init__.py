"""The Lambda handler of Custom::LookoutVisionModelPackagingJob, and the contract the construct and the CLI share.

One package under one name everywhere, owned by this distribution: the wheel installs it as
``cdk_lookoutvision_packaging_handler``, the construct and the CLI import its ``contract`` from there, and the Lambda
asset carries this folder under the same name (the function's handler is
``cdk_lookoutvision_packaging_handler.index.handler``).
"""
