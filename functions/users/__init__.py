"""The users HTTP service."""
