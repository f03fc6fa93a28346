"""The Lambda handler's source. The construct bundles this folder; the wheel ships it as cdk_lookoutvision_packaging._handler."""
