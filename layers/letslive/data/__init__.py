"""Data access: the only place that talks to DynamoDB (PynamoDB) or builds AWS clients."""
