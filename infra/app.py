"""`cdk.json` runs this: `python -m infra.app`."""

import os

from aws_cdk import App, Environment, Tags

from infra.config import InfraConfig
from infra.constants import APP_NAME, stack_name
from infra.nag import add_audit_trail, enforce
from infra.stacks.api_stack import ApiStack
from infra.stacks.cdn_stack import CdnStack
from infra.stacks.data_stack import DataStack
from infra.stacks.ingest_stack import IngestStack
from infra.stacks.monitoring_stack import MonitoringStack


def build_app(app: App | None = None) -> App:
    app = app or App()
    config = InfraConfig.from_context(app.node.try_get_context)
    env = Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION"))
    data = DataStack(app, stack_name(config.stage, "Data"), config=config, env=env)
    ingest_url = config.ingest_url  # given through context, it wins over the load balancer's
    if not config.local:  # locally the worker runs as a process beside the emulator (`make dev`)
        ingest = IngestStack(
            app, stack_name(config.stage, "Ingest"), config=config, data=data.data, bus=data.events.bus, env=env
        )
        ingest_url = ingest_url or ingest.ingest_url
    api = ApiStack(
        app,
        stack_name(config.stage, "Api"),
        config=config,
        data=data.data,
        bus=data.events.bus,
        ingest_url=ingest_url,
        env=env,
    )
    if not config.local:  # the local edge (`localstack/edge.py`) stands in for CloudFront
        CdnStack(
            app,
            stack_name(config.stage, "Cdn"),
            config=config,
            media_bucket=data.data.media_bucket,
            http_api=api.http.api,
            origin_verify=api.origin_verify,
            websocket_url=api.chat.stage.url,
            ingest_url=ingest_url,
            media_invalidator=api.vod_media.function.role,
            env=env,
        )
        # CloudWatch alarms, the dashboard and the alarm topic: nothing the emulator would run.
        MonitoringStack(
            app,
            stack_name(config.stage, "Monitoring"),
            config=config,
            http_api=api.http.api,
            functions=api.functions,
            dead_letter_queues=api.dead_letter_queues,
            tables=data.data.tables,
            ingest_service=ingest.ingest.service,
            env=env,
        )
    Tags.of(app).add("app", APP_NAME)
    Tags.of(app).add("stage", config.stage)
    add_audit_trail(app)
    if config.nag:
        enforce(app)
    return app


def main() -> None:
    build_app().synth()


if __name__ == "__main__":
    main()
