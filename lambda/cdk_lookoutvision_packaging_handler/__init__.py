"""The Lambda handler of Custom::LookoutVisionModelPackagingJob, and the contract the construct and the CLI share:
one package under one name, in the wheel and in the Lambda asset alike."""
