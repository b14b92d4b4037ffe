"""What every suite shares: tests that run command-line tools declare them, and a missing tool
fails the test (the Makefile installs every one of them; CI must never skip silently)."""

import shutil

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "tools(*names): command-line tools the test runs; a missing one fails it")


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("tools"):
        missing = [tool for tool in mark.args if shutil.which(tool) is None]
        if missing:
            pytest.fail(f"{', '.join(missing)} required (make installs it)", pytrace=False)
