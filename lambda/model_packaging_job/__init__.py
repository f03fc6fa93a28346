"""The Lambda handler of Custom::LookoutVisionModelPackagingJob, and the contract the construct and the CLI share.

One package under one name everywhere: the wheel installs it as ``model_packaging_job``, the construct imports its
``contract`` and ``packaging_job`` from there, and the Lambda asset carries this folder under the same name (the
function's handler is ``model_packaging_job.index.handler``).
"""
