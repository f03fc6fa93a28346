"""The botocore clients the CLI calls, configured with its user agent and retry policy."""

from __future__ import annotations

import os
from typing import Any

from cdk_lookoutvision_packaging import _model
from cdk_lookoutvision_packaging._cli_parser import USER_AGENT, CliError
from cdk_lookoutvision_packaging_handler import contract, outbound


def make_client(region: str | None, endpoint_url: str | None) -> Any:
    """A botocore lookoutvision client that knows the service with any botocore release.

    The package's service model goes first on the session's data path (after it, AWS_DATA_PATH and botocore's own
    data), as the Lambda asset does. Calls fail fast, like the handler's client: wait_for_job owns retries.
    AWS_ENDPOINT_URL_LOOKOUTVISION is honoured by botocore; ``endpoint_url`` overrides it. Without ``region``,
    AWS_REGION comes first, as in the AWS CLI v2: botocore itself reads only AWS_DEFAULT_REGION and the profile.
    """
    import botocore.session
    from botocore.exceptions import BotoCoreError, NoRegionError, UnknownServiceError

    session = botocore.session.get_session()
    missing_model = ""
    try:
        model_path = str(_model.data_path())
    except FileNotFoundError as error:
        missing_model = str(error)
    else:
        existing = session.get_config_variable("data_path") or ""
        session.set_config_variable("data_path", os.pathsep.join(p for p in (model_path, existing) if p))
    try:
        return session.create_client(
            contract.LOOKOUTVISION_SERVICE,
            region_name=region or os.environ.get("AWS_REGION") or None,
            endpoint_url=endpoint_url or None,
            config=outbound.client_config(user_agent_extra=USER_AGENT),
        )
    except UnknownServiceError:
        raise CliError(
            missing_model or "this botocore has no lookoutvision service model and none was found on AWS_DATA_PATH"
        ) from None
    except NoRegionError:
        raise CliError(
            "no AWS Region: pass --region, set AWS_REGION or AWS_DEFAULT_REGION, or set a region in the profile"
        ) from None
    except (BotoCoreError, ValueError) as error:
        raise CliError(f"cannot create the Lookout for Vision client: {error}") from None


def make_greengrass_client(region: str, endpoint_url: str | None) -> Any:
    """The greengrassv2 client of the component check, made like the lookoutvision one: the same Region (the one
    that client resolved), calls that fail fast (wait_deployable owns retries), AWS_ENDPOINT_URL_GREENGRASSV2 honoured
    by botocore and ``endpoint_url`` (--greengrass-endpoint-url) over it."""
    import botocore.session
    from botocore.exceptions import BotoCoreError

    try:
        return botocore.session.get_session().create_client(
            contract.GREENGRASS_SERVICE,
            region_name=region or None,
            endpoint_url=endpoint_url or None,
            config=outbound.client_config(user_agent_extra=USER_AGENT),
        )
    except (BotoCoreError, ValueError) as error:
        raise CliError(f"cannot create the Greengrass V2 client: {error}") from None
