"""Build hook: copy the lookoutvision service model from the pinned build-time botocore into the wheel.

botocore removed lookoutvision in 1.40.61, so the wheel must carry the model to bundle it into the Lambda asset
and to let the CLI run with any boto3. The model is made from the pinned package at build time, never committed.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

MODEL_FILES = ("service-2.json.gz", "endpoint-rule-set-1.json.gz", "paginators-1.json")
MODEL_RELDIR = Path("lookoutvision") / "2020-11-20"


class build_py_with_model(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            # Editable installs read the model from the development environment's botocore instead.
            return
        import botocore

        source = Path(botocore.__file__).parent / "data" / MODEL_RELDIR
        if not source.is_dir():
            raise SystemExit(
                f"botocore {botocore.__version__} has no lookoutvision model at {source}; "
                "build with botocore==1.40.60 (see [build-system] requires in pyproject.toml)"
            )
        target = Path(self.build_lib) / "cdk_lookoutvision_packaging" / "_model" / MODEL_RELDIR
        target.mkdir(parents=True, exist_ok=True)
        for name in MODEL_FILES:
            shutil.copyfile(source / name, target / name)


setup(cmdclass={"build_py": build_py_with_model})
