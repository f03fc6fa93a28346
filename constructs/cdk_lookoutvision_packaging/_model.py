"""Locate the Lookout for Vision service model that botocore no longer ships (removed in 1.40.61)."""

from __future__ import annotations

from pathlib import Path

MODEL_SUBDIR = Path("lookoutvision") / "2020-11-20"
MODEL_FILES = ("service-2.json.gz", "endpoint-rule-set-1.json.gz", "paginators-1.json")


def model_dir() -> Path:
    """The folder holding lookoutvision/2020-11-20's model files.

    A wheel carries its own copy (made at build time from botocore 1.40.60); an editable install falls back to the
    installed botocore when that release still has the model.
    """
    packaged = Path(__file__).resolve().parent / "_model" / MODEL_SUBDIR
    if all((packaged / name).is_file() for name in MODEL_FILES):
        return packaged
    import botocore

    installed = Path(botocore.__file__).resolve().parent / "data" / MODEL_SUBDIR
    if all((installed / name).is_file() for name in MODEL_FILES):
        return installed
    raise FileNotFoundError(
        "No Lookout for Vision service model found: this cdk-lookoutvision-packaging installation carries none and "
        f"botocore {botocore.__version__} has none (botocore removed lookoutvision in 1.40.61). Install the package "
        "from its wheel (pip install .), or install botocore==1.40.60 next to an editable install."
    )


def data_path() -> Path:
    """A folder to put on AWS_DATA_PATH (or a botocore loader's search paths) so that lookoutvision resolves."""
    return model_dir().parents[1]
