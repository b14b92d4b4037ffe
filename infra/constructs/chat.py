from collections.abc import Mapping
from typing import cast

from aws_cdk import CfnElement, CfnOutput, Duration, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import InfraConfig
from infra.constants import OUTPUT_WEBSOCKET_API_ID, OUTPUT_WEBSOCKET_STAGE, OUTPUT_WEBSOCKET_URL
from infra.constructs.access_logs import WEBSOCKET_FIELDS, access_logs, api_gateway_logging_role
from infra.constructs.consumers import EventConsumer, dead_letter_queue, encrypted_queue
from infra.constructs.functions import grant_tables, python_function
from infra.nag import acknowledge, rendered_arn
from letslive.constants import (
    CHAT_ROUTE_SELECTION,
    ENV_CHAT_CALLBACK_URL,
    ENV_CHAT_FANOUT_QUEUE_URL,
    ChatAction,
    Service,
    Table,
)

# A WebSocket route's integration times out after 29 s; a route handler should be far quicker.
ROUTE_TIMEOUT_SECONDS = 10
# One fan-out batch posts to a slice of a big room's connections.
FANOUT_TIMEOUT_SECONDS = 60
# Keeping a long broadcast's chat for its VOD is one update per message; a retry after a timeout
# goes on where it stopped (the messages kept already are not read again).
EVENTS_TIMEOUT_SECONDS = 300
# One queued batch per invocation: a big room's batches then run in parallel Lambdas instead of
# one after another inside one.
FANOUT_BATCH_SIZE = 1
# A batch that fails this often is parked in the dead-letter queue rather than retried forever.
FANOUT_MAX_RECEIVES = 3


class ChatConstruct(Construct):
    """Live chat: the API Gateway WebSocket API, its route Lambdas and the fan-out behind them.

    No authorizer: `$connect` verifies the `?token=` access token itself, so that anonymous
    viewers may connect read-only. A message to a room above the fan-out threshold is split into
    batches on an SQS queue, which a fan-out Lambda posts to the connections. Rooms hear about
    their channel going live or offline through the bus.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        runtime: lambda_.Runtime,
        layer: lambda_.ILayerVersion,
        tables: Mapping[Table, dynamodb.ITable],
        bus: events.IEventBus,
    ) -> None:
        super().__init__(scope, construct_id)

        def chat_function(name: str, handler: str, timeout_seconds: int = ROUTE_TIMEOUT_SECONDS) -> lambda_.Function:
            return python_function(
                self,
                name,
                config=config,
                runtime=runtime,
                layer=layer,
                service=Service.CHAT,
                handler=handler,
                timeout_seconds=timeout_seconds,
            )

        connect = chat_function("Connect", "functions.chat.websocket.connect")
        disconnect = chat_function("Disconnect", "functions.chat.websocket.disconnect")
        message = chat_function("Message", "functions.chat.websocket.message")
        fanout = chat_function("Fanout", "functions.chat.fanout.handler", FANOUT_TIMEOUT_SECONDS)
        self.events = EventConsumer(
            self,
            "Events",
            config=config,
            runtime=runtime,
            layer=layer,
            bus=bus,
            service=Service.CHAT,
            handler="functions.chat.events.handler",
            detail_types=("StreamStarted", "StreamEnded", "VodReady", "ClipCreated", "ClipDeleted"),
            timeout_seconds=EVENTS_TIMEOUT_SECONDS,
            description="Tells chat rooms their channel went live or offline; keeps a VOD's or clip's chat",
        )
        self.functions: dict[str, lambda_.Function] = {
            "connect": connect,
            "disconnect": disconnect,
            "message": message,
            "fanout": fanout,
            "events": self.events.function,
        }

        self.fanout_dead_letter_queue = dead_letter_queue(self, "FanoutDeadLetterQueue", config=config)
        self.fanout_queue = encrypted_queue(
            self,
            "FanoutQueue",
            config=config,
            # AWS's advice for a Lambda event source: six times the function's timeout, so a batch
            # retried after throttling is not handed to a second invocation meanwhile.
            visibility_timeout=Duration.seconds(6 * FANOUT_TIMEOUT_SECONDS),
            dead_letter=sqs.DeadLetterQueue(queue=self.fanout_dead_letter_queue, max_receive_count=FANOUT_MAX_RECEIVES),
        )
        # Partial batch responses: only the batches that failed come back.
        fanout.add_event_source(
            event_sources.SqsEventSource(
                self.fanout_queue, batch_size=FANOUT_BATCH_SIZE, report_batch_item_failures=True
            )
        )

        message_integration = integrations.WebSocketLambdaIntegration("MessageIntegration", message)
        self.api = apigwv2.WebSocketApi(
            self,
            "WebSocketApi",
            api_name=f"letslive-{config.stage}-chat",
            description="Let's Live chat",
            route_selection_expression=CHAT_ROUTE_SELECTION,
            connect_route_options=apigwv2.WebSocketRouteOptions(
                integration=integrations.WebSocketLambdaIntegration("ConnectIntegration", connect)
            ),
            disconnect_route_options=apigwv2.WebSocketRouteOptions(
                integration=integrations.WebSocketLambdaIntegration("DisconnectIntegration", disconnect)
            ),
            # An unknown action reaches the message handler too, which answers it with an error.
            default_route_options=apigwv2.WebSocketRouteOptions(integration=message_integration),
        )
        for action in ChatAction:
            self.api.add_route(action.value, integration=message_integration)
        acknowledge(
            self.api,
            "AwsSolutions-APIG4",
            "Anonymous viewers may connect and read, so $connect verifies the optional ?token= (our own "
            "ES256 access token, JWKS from the deploy) itself, and every later frame is checked against "
            "the identity stored with its connection id; a gateway authorizer would refuse viewers.",
        )
        # WebSocket stages log through the account's API Gateway role, which must exist first.
        logging_role = api_gateway_logging_role(self, "ApiGatewayAccount", config=config)
        self.stage = apigwv2.WebSocketStage(
            self,
            "Stage",
            web_socket_api=self.api,
            stage_name=config.stage,
            auto_deploy=True,
            # Per-route limits across all clients; the per-user rate limit is the handler's.
            throttle=apigwv2.ThrottleSettings(rate_limit=1000, burst_limit=500),
            access_log_settings=access_logs(self, "StageAccessLogs", WEBSOCKET_FIELDS),
        )
        self.stage.node.add_dependency(logging_role)

        for fn in self.functions.values():
            grant_tables(fn, Service.CHAT, tables)
            fn.add_environment(ENV_CHAT_CALLBACK_URL, self.stage.callback_url)
            fn.add_environment(ENV_CHAT_FANOUT_QUEUE_URL, self.fanout_queue.queue_url)
            # Every chat function queues work: a big room's batches (message, events), posts
            # that failed (fanout) and delayed viewer recounts (connect, disconnect, ping).
            self.fanout_queue.grant_send_messages(fn)
        # Whoever posts to connections (or drops them): the disconnect handler only cleans up.
        api_id = Stack.of(self).get_logical_id(cast(CfnElement, self.api.node.default_child))
        connections = rendered_arn(self, "execute-api", f"<{api_id}>/{self.stage.stage_name}/*/@connections/*")
        for fn in (connect, message, fanout, self.events.function):
            self.stage.grant_management_api_access(fn)
            acknowledge(
                fn.role or fn,
                f"AwsSolutions-IAM5[Resource::{connections}]",
                "Connection ids are made by API Gateway at run time, so posting to (or closing) the "
                "room's connections is granted on this API stage's @connections/* and nothing wider.",
            )

        CfnOutput(self, OUTPUT_WEBSOCKET_API_ID, key=OUTPUT_WEBSOCKET_API_ID, value=self.api.api_id)
        CfnOutput(self, OUTPUT_WEBSOCKET_URL, key=OUTPUT_WEBSOCKET_URL, value=self.stage.url)
        CfnOutput(self, OUTPUT_WEBSOCKET_STAGE, key=OUTPUT_WEBSOCKET_STAGE, value=self.stage.stage_name)
