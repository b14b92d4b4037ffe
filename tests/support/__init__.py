"""Fakes and assertions shared by the test suites (one copy of each)."""
