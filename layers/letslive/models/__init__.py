"""Pydantic types shared by services and entry points."""
