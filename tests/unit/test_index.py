"""index: the entry point's clients are made on first use, so that an import never fails for want of a model."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from cdk_lookoutvision_packaging_handler.index import LazyClient


def test_a_client_is_made_on_its_first_use_and_only_once() -> None:
    made: list[Any] = []

    def make() -> Any:
        made.append(SimpleNamespace(describe=lambda: "described"))
        return made[-1]

    lazy = LazyClient(make)
    assert made == []
    assert (lazy.describe(), lazy.describe(), len(made)) == ("described", "described", 1)
