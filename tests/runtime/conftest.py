"""The runtime suites' one synthesis: the example app's gate stack as `cdk synth` writes it, starting its job."""

from __future__ import annotations

import pytest
from lambda_runtime import SynthesizedApp, synthesized_gate


@pytest.fixture(scope="session")
def gate_app(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    return synthesized_gate(tmp_path_factory.mktemp("gate-synth"), "startJob=true", "modelVersion=3")
