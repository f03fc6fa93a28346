"""The protocol suites' fixtures live beside their doubles, in inprocess.py."""

from inprocess import *  # noqa: F403
