"""The auth HTTP service."""
