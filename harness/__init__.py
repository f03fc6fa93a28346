"""The stand-ins that the tests and the benchmark share: the offline environment, virtual time, CloudFormation's
events and ResponseURL, and a loopback Lookout for Vision API. Not part of the package: it is never in the wheel."""
