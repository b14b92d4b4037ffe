"""Stacks compose constructs and grant between them; they own no resources directly."""
