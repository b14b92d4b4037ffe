"""`cdk.json` runs this: `python -m infra.app`."""

import os

from aws_cdk import App, Environment, Tags

from infra.config import InfraConfig
from infra.constants import APP_NAME, stack_name
from infra.stacks.api_stack import ApiStack
from infra.stacks.data_stack import DataStack


def build_app(app: App | None = None) -> App:
    app = app or App()
    config = InfraConfig.from_context(app.node.try_get_context)
    env = Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION"))
    data = DataStack(app, stack_name(config.stage, "Data"), config=config, env=env)
    ApiStack(app, stack_name(config.stage, "Api"), config=config, data=data.data, bus=data.events.bus, env=env)
    Tags.of(app).add("app", APP_NAME)
    Tags.of(app).add("stage", config.stage)
    return app


def main() -> None:
    build_app().synth()


if __name__ == "__main__":
    main()
