"""Build hook: copy the lookoutvision service model and crhelper from their pinned build-time packages into the wheel.

botocore removed lookoutvision in 1.40.61, so the wheel must carry the model to bundle it into the Lambda asset
and to let the CLI run with any boto3. crhelper runs only inside the asset, so the wheel carries it too instead of
depending on it: the asset is then built from the package alone, and two consumers of one package version upload the
same code. Both are made from the pinned packages of [build-system] requires at build time, never committed.
"""

import importlib.metadata
import importlib.util
import shutil
import tomllib
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PACKAGE = "cdk_lookoutvision_packaging"
MODEL_FILES = ("service-2.json.gz", "endpoint-rule-set-1.json.gz", "paginators-1.json")
MODEL_RELDIR = Path("lookoutvision") / "2020-11-20"
# Where the package keeps crhelper (see _vendor.py); Apache-2.0 asks a redistribution to carry LICENSE and NOTICE.
CRHELPER_RELDIR = Path("_vendor") / "crhelper"
CRHELPER_LEGAL_FILES = ("LICENSE", "NOTICE")


def pinned_build_requirement(name: str) -> str:
    """The exact version [build-system] requires pins ``name`` to."""
    requires = tomllib.loads(Path("pyproject.toml").read_text())["build-system"]["requires"]
    for requirement in requires:
        if requirement.replace(" ", "").startswith(f"{name}=="):
            return str(requirement.split("==", 1)[1].strip())
    raise SystemExit(f"pyproject.toml's [build-system] requires pins no {name}==<version>")


def copy_model(package: Path) -> None:
    import botocore

    source = Path(botocore.__file__).parent / "data" / MODEL_RELDIR
    if not source.is_dir():
        raise SystemExit(
            f"botocore {botocore.__version__} has no lookoutvision model at {source}; "
            "build with botocore==1.40.60 (see [build-system] requires in pyproject.toml)"
        )
    target = package / "_model" / MODEL_RELDIR
    target.mkdir(parents=True, exist_ok=True)
    for name in MODEL_FILES:
        shutil.copyfile(source / name, target / name)


def copy_crhelper(package: Path) -> None:
    pinned = pinned_build_requirement("crhelper")
    try:
        installed = importlib.metadata.version("crhelper")
    except importlib.metadata.PackageNotFoundError:
        installed = "none"
    # Located without importing it: crhelper imports boto3, which is no build requirement.
    spec = importlib.util.find_spec("crhelper")
    if installed != pinned or spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            f"the build environment has crhelper {installed}; build with crhelper=={pinned} "
            "(see [build-system] requires in pyproject.toml)"
        )
    source = Path(next(iter(spec.submodule_search_locations)))
    target = package / CRHELPER_RELDIR
    target.mkdir(parents=True, exist_ok=True)
    for module in sorted(source.glob("*.py")):
        shutil.copyfile(module, target / module.name)
    distribution = importlib.metadata.distribution("crhelper")
    for name in CRHELPER_LEGAL_FILES:
        text = distribution.read_text(name)
        if text is None:
            raise SystemExit(f"crhelper {installed} carries no {name} to redistribute")
        (target / name).write_text(text)


class build_py_with_pinned_copies(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            # Editable installs read the model and crhelper from the development environment instead (the pinned
            # botocore and crhelper of requirements.txt; see _model.py and _vendor.py).
            return
        package = Path(self.build_lib) / PACKAGE
        copy_model(package)
        copy_crhelper(package)


setup(cmdclass={"build_py": build_py_with_pinned_copies})
