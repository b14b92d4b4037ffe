"""Long-running processes that cannot be Lambdas (ECS tasks); `ingest` is the RTMP ingest worker."""
