"""CloudFormation custom resource that creates the JWT signing key at deploy time."""
