"""The protocol suites' fixture lives beside its doubles, in inprocess.py."""

from inprocess import *  # noqa: F403
