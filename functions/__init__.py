"""Lambda entry points. Each service is `functions/<service>/{app,handler}.py`."""
