"""Lambda entry point: a Create or Update runs ``lifecycle.run`` once and answers, or hands the wait on (``handoff``);
a Delete changes nothing. ``make_handler`` takes the clients, clock and environment, so tests run this same entry.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from .contract import MODELS_DIR

# botocore dropped lookoutvision in 1.40.61; the asset carries the model under models/, beside this package. Put it
# on the data path before any boto3 session exists, keeping whatever path the environment already has.
_MODELS = Path(__file__).resolve().parents[1] / MODELS_DIR
if _MODELS.is_dir():
    _paths = [p for p in os.environ.get("AWS_DATA_PATH", "").split(os.pathsep) if p]
    if str(_MODELS) not in _paths:
        os.environ["AWS_DATA_PATH"] = os.pathsep.join([str(_MODELS), *_paths])

from . import contract, handoff, lifecycle  # noqa: E402
from .crhelper_adapter import Responder  # noqa: E402
from .outbound import Clock, client_config  # noqa: E402
from .response import fallback_physical_id  # noqa: E402

logger = logging.getLogger(__name__)

REGION = os.environ.get("AWS_REGION", "")


class LazyClient:
    """A boto3 client made on first use, so that a botocore without the lookoutvision model fails a request, with an
    answer, instead of the import."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._client: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            self._client = self._make()
        return getattr(self._client, name)


def _client(service: str, **kwargs: Any) -> Any:
    import boto3

    return boto3.session.Session().client(service, region_name=REGION or None, config=client_config(), **kwargs)


# ``kwargs`` go to boto3 (tests pass an endpoint_url).
make_lookoutvision_client = partial(_client, contract.LOOKOUTVISION_SERVICE)
make_greengrass_client = partial(_client, contract.GREENGRASS_SERVICE)
make_lambda_client = partial(_client, "lambda")


def make_handler(
    *,
    lookoutvision: Any = None,
    greengrass: Any = None,
    lambda_client: Any = None,
    clock: Clock | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    environ: Mapping[str, str] = os.environ,
) -> Responder:
    lookoutvision = LazyClient(make_lookoutvision_client) if lookoutvision is None else lookoutvision
    lambda_client = LazyClient(make_lambda_client) if lambda_client is None else lambda_client
    greengrass = LazyClient(make_greengrass_client) if greengrass is None else greengrass
    clock = clock or Clock()
    responder = Responder(log_level=environ.get(contract.LOG_LEVEL_ENV, "INFO"))

    @responder.create
    @responder.update
    def create_or_update(event: dict[str, Any], context: Any) -> str:
        # Whoever answers first (this function or the timer) names the job the request is about.
        responder.PhysicalResourceId = lifecycle.failed_physical_id(event)
        outcome = lifecycle.run(
            event,
            context.get_remaining_time_in_millis() / 1000.0,
            lookoutvision=lookoutvision,
            greengrass=greengrass,
            clock=clock,
            region=REGION,
            environ=environ,
            log_stream=str(getattr(context, "log_stream_name", "")),
            answered=responder.answered,
        )
        if isinstance(outcome, lifecycle.Continuation):
            arn, sleep = context.invoked_function_arn, clock.sleep
            refusal = handoff.continue_elsewhere(
                lambda_client, arn, outcome.event, outcome.invocation, responder, sleep=sleep, monotonic=monotonic
            )
            if refusal is None:
                return outcome.physical_id
            outcome = outcome.refused_because(refusal)
        return responder.answer(outcome.status, outcome.reason, outcome.physical_id, outcome.data)

    @responder.delete
    def delete(event: dict[str, Any], context: Any) -> str:
        # Never delete the job or its component (even one the stack started): devices may be running it.
        logger.info("Delete: nothing to clean up; the packaging job belongs to Lookout for Vision")
        return fallback_physical_id(event)

    return responder


handler = make_handler()
