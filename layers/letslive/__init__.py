"""Let's Live domain package: settings, errors, models, data access and services.

Shared by every Lambda (through a layer) and by the ingest worker. It imports neither
FastAPI nor Mangum nor an asyncio server, and builds no AWS client at import time.
"""

__version__ = "0.1.0"
