from typing import Any

from aws_cdk import Stack
from constructs import Construct

from infra.config import InfraConfig
from infra.constructs.data import DataConstruct
from infra.constructs.http_api import HttpServicesConstruct


class ApiStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: InfraConfig, data: DataConstruct, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.http = HttpServicesConstruct(self, "Http", config=config, tables=data.tables)
