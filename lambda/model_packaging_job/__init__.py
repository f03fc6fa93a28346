"""The Lambda handler's source: the construct bundles this folder; the wheel ships it as the _handler package."""
