"""The runtime suites' one synthesis: the example app's gate stack as `cdk synth` writes it."""

from __future__ import annotations

import pytest
from lambda_runtime import FunctionSpec, synthesized_gate


@pytest.fixture(scope="session")
def gate_function(tmp_path_factory: pytest.TempPathFactory) -> FunctionSpec:
    return synthesized_gate(tmp_path_factory.mktemp("gate-synth"))
