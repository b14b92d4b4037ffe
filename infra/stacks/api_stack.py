from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import InfraConfig
from infra.constructs.chat import ChatConstruct
from infra.constructs.consumers import ClipDownloadConsumer, EventConsumer, VodMediaConsumer
from infra.constructs.data import DataConstruct, grant_restream_key, media_bucket_arn_export
from infra.constructs.functions import grant_tables
from infra.constructs.http_api import HttpServicesConstruct
from infra.constructs.origin_verify import OriginVerifyConstruct
from infra.constructs.signing_key import SigningKeyConstruct
from infra.constructs.sweeper import SweeperConstruct
from infra.nag import acknowledge
from letslive.constants import (
    ENV_EVENT_BUS,
    ENV_JWKS,
    ENV_MEDIA_BUCKET,
    ENV_RESTREAM_ALLOW_PRIVATE_HOSTS,
    ENV_RESTREAM_KEY,
    ENV_SIGNING_KEY_SECRET,
    MEDIA_PREFIX,
    Service,
    Table,
)
from letslive.models.clips import CLIPS_MEDIA_DIR
from letslive.models.streams import BROADCASTS_MEDIA_DIR

# Services that publish domain events on the bus.
EVENT_PUBLISHERS = (Service.USERS, Service.STREAMS, Service.VODS)


class ApiStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        data: DataConstruct,
        bus: events.IEventBus,
        ingest_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # Where streamers point OBS (shown with a new stream key): the context's, else the ingest stack's.
        self.http = HttpServicesConstruct(
            self, "Http", config=config, tables=data.tables, ingest_url=config.ingest_url or ingest_url
        )
        runtime, layer = self.http.runtime, self.http.layer
        self.signing_key = SigningKeyConstruct(self, "SigningKey", config=config, runtime=runtime, layer=layer)
        self.chat = ChatConstruct(
            self, "Chat", config=config, runtime=runtime, layer=layer, tables=data.tables, bus=bus
        )
        # The streams service keeps its channels' viewer counts, which the chat reports.
        self.viewer_counts = EventConsumer(
            self,
            "ViewerCounts",
            config=config,
            runtime=runtime,
            layer=layer,
            bus=bus,
            service=Service.STREAMS,
            handler="functions.streams.events.handler",
            detail_types=("ViewerCountChanged",),
            description="Records the viewer counts that chat reports on live channels",
        )
        grant_tables(self.viewer_counts.function, Service.STREAMS, data.tables)
        # A deleted VOD's media goes from the bucket (and, in AWS, from the CDN's caches).
        self.vod_media = VodMediaConsumer(
            self,
            "VodMedia",
            config=config,
            runtime=runtime,
            layer=layer,
            bus=bus,
            media_bucket=data.media_bucket,
        )
        # A new clip's MP4 download, remuxed from its segments.
        self.clip_downloads = ClipDownloadConsumer(
            self,
            "ClipDownloads",
            config=config,
            runtime=runtime,
            layer=layer,
            bus=bus,
            media_bucket=data.media_bucket,
        )
        self.clip_downloads.grant_clips_table(data.tables[Table.VODS])
        self.sweeper = SweeperConstruct(
            self,
            "Sweeper",
            config=config,
            runtime=runtime,
            layer=layer,
            tables=data.tables,
            media_bucket=data.media_bucket,
            bus=bus,
        )

        for fn in (*self.http.functions.values(), *self.chat.functions.values()):
            fn.add_environment(ENV_JWKS, self.signing_key.jwks)
        auth = self.http.functions[Service.AUTH]
        self.signing_key.secret.grant_read(auth)
        auth.add_environment(ENV_SIGNING_KEY_SECRET, self.signing_key.secret.secret_arn)
        self._grant_clip_media(data)
        # The streams API seals restream keys; it can never open one (only the ingest worker can).
        streams = self.http.functions[Service.STREAMS]
        grant_restream_key(data.restream_key, streams, "kms:Encrypt")
        streams.add_environment(ENV_RESTREAM_KEY, data.restream_key.key_arn)
        if config.local:  # the local tests' RTMP servers listen on 127.0.0.1
            streams.add_environment(ENV_RESTREAM_ALLOW_PRIVATE_HOSTS, "true")
        # What tells the auth function a request came through the distribution (the CDN stack's;
        # locally the edge, which reads it from the emulator and sends it as CloudFront does).
        self.origin_verify = OriginVerifyConstruct(self, "OriginVerify", reader=auth)
        # Every chat function may change a room's connections (join, leave, a Gone connection
        # pruned, a ban), so any of them may publish `ViewerCountChanged`.
        for fn in (*(self.http.functions[s] for s in EVENT_PUBLISHERS), *self.chat.functions.values()):
            bus.grant_put_events_to(fn)
            fn.add_environment(ENV_EVENT_BUS, bus.event_bus_name)

    def _grant_clip_media(self, data: DataConstruct) -> None:
        """Clips: the vods function reads a broadcast's playlists and copies its segments (read
        below the broadcasts prefix) into the clip's own directory (write below the clips prefix);
        it deletes nothing (a deleted clip's media goes through `ClipDeleted`)."""
        vods = self.http.functions[Service.VODS]
        role = vods.role
        assert role is not None
        bucket_arn, bucket_export = media_bucket_arn_export(self, data.media_bucket)
        broadcasts = f"{MEDIA_PREFIX}/{BROADCASTS_MEDIA_DIR}/*"
        clips = f"{MEDIA_PREFIX}/{CLIPS_MEDIA_DIR}/*"
        vods.add_to_role_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[f"{bucket_arn}/{broadcasts}"]))
        vods.add_to_role_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=[f"{bucket_arn}/{clips}"]))
        for objects, why in (
            (broadcasts, "A clip reads the playlists and segments of the broadcast it is cut from, named at run time."),
            (clips, "A clip writes its own playlists and segment copies under its id, made at run time."),
        ):
            acknowledge(role, f"AwsSolutions-IAM5[Resource::{bucket_export}/{objects}]", why)
        vods.add_environment(ENV_MEDIA_BUCKET, data.media_bucket.bucket_name)

    @property
    def functions(self) -> dict[str, lambda_.IFunction]:
        """Every Lambda of the stack by a short name (the monitoring stack's labels and alarms)."""
        return {
            **{service.value: fn for service, fn in self.http.functions.items()},
            **{f"chat-{name}": fn for name, fn in self.chat.functions.items()},
            "streams-viewer-counts": self.viewer_counts.function,
            "vods-media": self.vod_media.function,
            "vods-clip-downloads": self.clip_downloads.function,
            "streams-sweeper": self.sweeper.function,
            "signing-key": self.signing_key.function,
        }

    @property
    def dead_letter_queues(self) -> dict[str, sqs.IQueue]:
        """Every dead-letter queue of the stack by a short name (one alarm each)."""
        return {
            "chat-fanout": self.chat.fanout_dead_letter_queue,
            "chat-events": self.chat.events.dead_letter_queue,
            "streams-viewer-counts": self.viewer_counts.dead_letter_queue,
            "vods-media": self.vod_media.dead_letter_queue,
            "vods-clip-downloads": self.clip_downloads.dead_letter_queue,
        }
