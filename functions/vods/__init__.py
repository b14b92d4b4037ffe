"""The vods HTTP service."""
