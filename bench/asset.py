"""Figure 2, asset size: each Lambda asset folder of a synthesized cloud assembly, zipped the way the CDK uploads it.

The aws-cdk CLI (``zipDirectory`` in node_modules/aws-cdk/lib/index.js) zips a directory asset with yazl: every
file under the folder including dotfiles (no directory entries), symlinks followed, DEFLATE at zlib's default
level, the DOS timestamp fixed to 1980-01-01 and each file's mode kept. This module does the same with zipfile
(files in sorted order), so the byte count is what lands in the bootstrap bucket, give or take a few header bytes.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any

from bench.synth_app import STACK_NAME

EPOCH_1980 = (1980, 1, 1, 0, 0, 0)


def cdk_zip(directory: Path) -> bytes:
    buffer = io.BytesIO()
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=zlib.Z_DEFAULT_COMPRESSION) as zf:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(directory).as_posix(), date_time=EPOCH_1980)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so that the mode below means what it says
            info.external_attr = (os.stat(path).st_mode & 0xFFFF) << 16
            zf.writestr(info, path.read_bytes())
    return buffer.getvalue()


def zip_assets(cloud_assembly: Path) -> list[dict[str, Any]]:
    """Every directory (zip-packaged) file asset of the benchmark stack, with its zipped and unzipped sizes."""
    manifest = json.loads((cloud_assembly / f"{STACK_NAME}.assets.json").read_text())
    assets: list[dict[str, Any]] = []
    for asset_hash, entry in sorted(manifest.get("files", {}).items()):
        source = entry["source"]
        if source.get("packaging") != "zip":
            continue
        folder = cloud_assembly / source["path"]
        files = [p for p in folder.rglob("*") if p.is_file()]
        assets.append(
            {
                "display_name": entry.get("displayName", asset_hash),
                "path": source["path"],
                "files": len(files),
                "unzipped_bytes": sum(p.stat().st_size for p in files),
                "zip_bytes": len(cdk_zip(folder)),
            }
        )
    return assets


def measure(kept: dict[str, Path]) -> dict[str, Any]:
    ours, awscr = zip_assets(kept["ours"]), zip_assets(kept["awscr"])
    if not ours or not awscr:
        raise RuntimeError(f"expected a zip asset on both sides, got ours={ours} awscr={awscr}")
    return {
        "ours_zip_bytes": sum(a["zip_bytes"] for a in ours),
        "awscr_zip_bytes": sum(a["zip_bytes"] for a in awscr),
        "ours_unzipped_bytes": sum(a["unzipped_bytes"] for a in ours),
        "awscr_unzipped_bytes": sum(a["unzipped_bytes"] for a in awscr),
        "ours_assets": ours,
        "awscr_assets": awscr,
    }
