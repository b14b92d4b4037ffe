"""The running local platform, once per session: emulator + the deployed CDK app + worker + edge.

Everything is real: ministack on a free loopback port, `cdklocal deploy` of the CDK app,
the ingest worker as a process, the edge in a thread. Nothing here is mocked.
"""

from collections.abc import Iterator

import pytest

from localstack.platform import RunningPlatform, local_platform

# The name the tests use for it.
LocalPlatform = RunningPlatform


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    with local_platform(tmp_path_factory.mktemp("platform")) as running:
        yield running
