"""Domain events published on the EventBridge bus (`detail-type` = the class's `detail_type`)."""

from datetime import datetime
from typing import ClassVar

from pydantic import BaseModel


class DomainEvent(BaseModel):
    detail_type: ClassVar[str]


class UserFollowed(DomainEvent):
    detail_type: ClassVar[str] = "UserFollowed"
    follower: str
    followee: str
    followed_at: datetime
