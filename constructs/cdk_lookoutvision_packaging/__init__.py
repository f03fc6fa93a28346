"""AWS CDK constructs that gate a deployment on an Amazon Lookout for Vision model packaging job.

The construct is exported lazily (PEP 562): importing the package, or running its CLI with
``python -m cdk_lookoutvision_packaging``, does not load aws_cdk and jsii until ModelPackagingJob is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cdk_lookoutvision_packaging.model_packaging_job import RESOURCE_TYPE, ModelPackagingJob
    from cdk_lookoutvision_packaging.packaging import GreengrassPackaging, TargetPlatform
    from cdk_lookoutvision_packaging.reference import ModelPackagingJobReference

__all__ = ["RESOURCE_TYPE", "GreengrassPackaging", "ModelPackagingJob", "ModelPackagingJobReference", "TargetPlatform"]
_HOMES = {
    "RESOURCE_TYPE": "model_packaging_job",
    "ModelPackagingJob": "model_packaging_job",
    "ModelPackagingJobReference": "reference",
    "GreengrassPackaging": "packaging",
    "TargetPlatform": "packaging",
}

if not TYPE_CHECKING:
    # Hidden from type checkers: they see the imports above, and a module __getattr__ would make every missing
    # name of the package look like an attribute.

    def __getattr__(name: str) -> Any:
        if name in _HOMES:
            import importlib

            value = getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
            globals()[name] = value
            return value
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*globals(), *__all__})
