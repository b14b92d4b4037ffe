"""Running the real CDK app on one machine against a LocalStack-compatible emulator.

`emulator` starts (or reuses) the emulator, `deploy` deploys the CDK app to it with cdklocal,
`platform` is `make dev`: emulator + deploy + the local processes + the URLs.
"""
