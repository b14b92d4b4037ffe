from datetime import UTC, datetime

import pytest

from letslive.constants import EVENT_SOURCE
from letslive.data.events import EventBridgePublisher
from letslive.errors import DependencyUnavailable
from letslive.models.events import UserFollowed
from letslive.services.events import event_publisher
from tests.integration.conftest import EventBus


def test_published_events_reach_the_bus_with_their_type_and_detail(event_bus: EventBus) -> None:
    at = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    event_publisher().publish(UserFollowed(follower="alice", followee="bob", followed_at=at))
    (received,) = event_bus.received()
    assert received["source"] == EVENT_SOURCE
    assert received["detail-type"] == "UserFollowed"
    assert received["detail"]["follower"] == "alice"
    assert received["detail"]["followee"] == "bob"


def test_a_missing_bus_is_a_dependency_error(aws: None) -> None:
    publisher = EventBridgePublisher("no-such-bus")
    with pytest.raises(DependencyUnavailable):
        publisher.publish(UserFollowed(follower="a", followee="b", followed_at=datetime.now(UTC)))
