"""Locate the crhelper release that the Lambda asset carries, so that the asset depends on the package alone."""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

from cdk_lookoutvision_packaging_handler.contract import CRHELPER_VERSION

# contract.CRHELPER_VERSION is the release the asset is built from. [build-system] requires in pyproject.toml (what
# setup.py copies into the wheel) and requirements.txt (the development environment) pin the same one; a test keeps
# them equal.
# The folder, inside the package, where setup.py puts crhelper's modules and its LICENSE and NOTICE.
PACKAGED_CRHELPER = Path("_vendor") / "crhelper"


def crhelper_dir() -> Path:
    """The folder holding crhelper's modules (``*.py``), to copy into the asset.

    A wheel carries its own copy, made at build time from crhelper==2.0.12, so every consumer of one package version
    bundles the same files whatever crhelper (if any) their environment has. An editable install (``pip install -e
    .``, as ``make setup`` does) carries none and falls back to the development environment's crhelper, which must be
    the pinned release: then both give the same asset.
    """
    packaged = Path(__file__).resolve().parent / PACKAGED_CRHELPER
    if (packaged / "__init__.py").is_file():
        return packaged
    # Located without importing it: importing crhelper pulls in boto3, which synth does not need.
    spec = importlib.util.find_spec("crhelper")
    try:
        installed = importlib.metadata.version("crhelper")
    except importlib.metadata.PackageNotFoundError:
        installed = None
    if spec is None or not spec.submodule_search_locations or installed != CRHELPER_VERSION:
        found = "no crhelper" if spec is None or installed is None else f"crhelper {installed}"
        raise FileNotFoundError(
            "This cdk-lookoutvision-packaging installation carries no crhelper for its Lambda asset and the "
            f"environment has {found}, not the pinned {CRHELPER_VERSION}. Install the package from its wheel "
            f"(pip install .), or install crhelper=={CRHELPER_VERSION} next to an editable install."
        )
    return Path(next(iter(spec.submodule_search_locations))).resolve()
