"""``python -m cdk_lookoutvision_packaging``: the pipeline gate CLI (see cli.py); also the console script's entry."""

from cdk_lookoutvision_packaging.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
