"""The runtime suites' one synthesis: the example app's gate stack as the real `cdk synth` writes it, in the mode
that starts its job (``-c startJob=true``); the suites that watch a job send the same resource without Packaging."""

from __future__ import annotations

import pytest
from lambda_runtime import SynthesizedApp, synthesized_gate


@pytest.fixture(scope="session")
def gate_app(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    return synthesized_gate(tmp_path_factory.mktemp("gate-synth"), "startJob=true", "modelVersion=3")
