"""The streams HTTP service."""
