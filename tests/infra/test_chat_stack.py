"""The chat: WebSocket API, route Lambdas, fan-out queue, and the event consumers (in the API stack)."""

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.constants import OUTPUT_WEBSOCKET_API_ID, OUTPUT_WEBSOCKET_STAGE, OUTPUT_WEBSOCKET_URL
from infra.constructs.chat import EVENTS_TIMEOUT_SECONDS
from letslive.constants import (
    CHAT_ROUTE_SELECTION,
    ENV_CHAT_CALLBACK_URL,
    ENV_CHAT_FANOUT_QUEUE_URL,
    ENV_EVENT_BUS,
    ENV_JWKS,
    EVENT_SOURCE,
    ChatAction,
    Service,
    Table,
    table_env_var,
)
from localstack.deploy import Deployment
from tests.infra.conftest import Synthesized

CONNECT = "functions.chat.websocket.connect"
DISCONNECT = "functions.chat.websocket.disconnect"
MESSAGE = "functions.chat.websocket.message"
FANOUT = "functions.chat.fanout.handler"
CHAT_EVENTS = "functions.chat.events.handler"
STREAMS_EVENTS = "functions.streams.events.handler"
CHAT_HANDLERS = (CONNECT, DISCONNECT, MESSAGE, FANOUT, CHAT_EVENTS)
# Everything that posts to connections; `$disconnect` only cleans up after one.
POSTERS = (CONNECT, MESSAGE, FANOUT, CHAT_EVENTS)
WRITE_ACTIONS = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}


def _by_handler(template: Template) -> dict[str, tuple[str, Mapping[str, Any]]]:
    """Lambda functions by handler path: (logical id, resource)."""
    found = template.find_resources("AWS::Lambda::Function")
    return {res["Properties"]["Handler"]: (logical_id, res) for logical_id, res in found.items()}


def _policy_statements(template: Template, function: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    statements: list[Mapping[str, Any]] = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _actions(statement: Mapping[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def _allowed(statements: list[Mapping[str, Any]], resource_fragment: str) -> set[str]:
    """Every action granted on a resource whose template expression mentions `resource_fragment`."""
    return {a for s in statements if resource_fragment in json.dumps(s["Resource"]) for a in _actions(s)}


def _websocket_api(template: Template) -> str:
    (api_id,) = template.find_resources("AWS::ApiGatewayV2::Api", {"Properties": {"ProtocolType": "WEBSOCKET"}})
    return api_id


def test_websocket_api_selects_routes_by_action_and_has_no_authorizer(aws_app: Synthesized) -> None:
    template = aws_app.template("Api")
    api = _websocket_api(template)
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Api", {"ProtocolType": "WEBSOCKET", "RouteSelectionExpression": CHAT_ROUTE_SELECTION}
    )
    routes = template.find_resources("AWS::ApiGatewayV2::Route", {"Properties": {"ApiId": {"Ref": api}}})
    keys = [r["Properties"]["RouteKey"] for r in routes.values()]
    assert sorted(keys) == sorted(["$connect", "$disconnect", "$default", *(a.value for a in ChatAction)])
    # `$connect` verifies the `?token=` itself: anonymous viewers may connect read-only.
    assert all(r["Properties"].get("AuthorizationType", "NONE") == "NONE" for r in routes.values())
    template.resource_count_is("AWS::ApiGatewayV2::Authorizer", 0)


def test_each_route_invokes_its_handler(aws_app: Synthesized) -> None:
    template = aws_app.template("Api")
    api = _websocket_api(template)
    handlers = {logical_id: handler for handler, (logical_id, _) in _by_handler(template).items()}
    integrations = template.find_resources("AWS::ApiGatewayV2::Integration", {"Properties": {"ApiId": {"Ref": api}}})
    target_of = {}
    for integration_id, integration in integrations.items():
        assert integration["Properties"]["IntegrationType"] == "AWS_PROXY"
        (function_id,) = [
            part["Fn::GetAtt"][0]
            for part in integration["Properties"]["IntegrationUri"]["Fn::Join"][1]
            if isinstance(part, dict) and "Fn::GetAtt" in part
        ]
        target_of[integration_id] = handlers[function_id]
    routes = template.find_resources("AWS::ApiGatewayV2::Route", {"Properties": {"ApiId": {"Ref": api}}})
    routed = {}
    for route in routes.values():
        (ref,) = [part["Ref"] for part in route["Properties"]["Target"]["Fn::Join"][1] if isinstance(part, dict)]
        routed[route["Properties"]["RouteKey"]] = target_of[ref]
    assert routed == {
        "$connect": CONNECT,
        "$disconnect": DISCONNECT,
        "$default": MESSAGE,
        **{action.value: MESSAGE for action in ChatAction},
    }
    # One integration per Lambda, shared by every message route.
    assert len(integrations) == 3


def test_stage_is_named_after_the_app_stage_and_deploys_itself(aws_app: Synthesized, local_app: Synthesized) -> None:
    for app in (aws_app, local_app):
        template = app.template("Api")
        template.has_resource_properties(
            "AWS::ApiGatewayV2::Stage",
            {
                "ApiId": {"Ref": _websocket_api(template)},
                "StageName": app.stage,
                "AutoDeploy": True,
                "DefaultRouteSettings": {
                    "ThrottlingBurstLimit": Match.any_value(),
                    "ThrottlingRateLimit": Match.any_value(),
                },
            },
        )


def test_chat_functions_share_the_layer_and_know_their_resources(aws_app: Synthesized) -> None:
    template = aws_app.template("Api")
    functions = _by_handler(template)
    (layer,) = [name for name in template.find_resources("AWS::Lambda::LayerVersion") if name.startswith("Http")]
    for handler in CHAT_HANDLERS:
        _, fn = functions[handler]
        props = fn["Properties"]
        assert props["Layers"] == [{"Ref": layer}], handler
        assert props["MemorySize"] == 1024
        assert props["TracingConfig"] == {"Mode": "Active"}
        variables = props["Environment"]["Variables"]
        assert {name for name in variables if name.endswith("_TABLE")} == {
            table_env_var(t) for t in (Table.CONNECTIONS, Table.CHAT, Table.USERS)
        }, handler
        for name in (ENV_CHAT_CALLBACK_URL, ENV_CHAT_FANOUT_QUEUE_URL, ENV_JWKS, ENV_EVENT_BUS):
            assert name in variables, (handler, name)
        assert variables["POWERTOOLS_SERVICE_NAME"] == Service.CHAT.value
        assert variables["LETSLIVE_STAGE"] == aws_app.stage
        # The management endpoint of this API's stage, where handlers post to connections.
        callback = json.dumps(variables[ENV_CHAT_CALLBACK_URL])
        assert _websocket_api(template) in callback
        assert "execute-api" in callback
        assert f"/{aws_app.stage}" in callback
    for handler in (CONNECT, DISCONNECT, MESSAGE):
        assert functions[handler][1]["Properties"]["Timeout"] == 10
    assert functions[FANOUT][1]["Properties"]["Timeout"] == 60


def _asset_dir(app: Synthesized, resource: Mapping[str, Any]) -> Path:
    key: str = resource["Properties"]["Code"]["S3Key"]
    return app.outdir / f"asset.{key.removesuffix('.zip')}"


def test_chat_and_streams_consumer_assets_hold_their_own_package(aws_app: Synthesized) -> None:
    functions = _by_handler(aws_app.template("Api"))
    for handler in (*CHAT_HANDLERS, STREAMS_EVENTS):
        service = handler.split(".")[1]
        package = _asset_dir(aws_app, functions[handler][1]) / "functions"
        assert (package / service / "__init__.py").is_file(), handler
        assert (package / "common").is_dir()
        assert not any((package / other.value).exists() for other in Service if other.value != service)


def test_chat_may_only_read_the_users_table(aws_app: Synthesized) -> None:
    template = aws_app.template("Api")
    functions = _by_handler(template)
    http_chat = functions["functions.chat.handler.handler"]
    for handler, (_, fn) in [*((h, functions[h]) for h in CHAT_HANDLERS), ("http", http_chat)]:
        statements = _policy_statements(template, fn)
        for table in (Table.CONNECTIONS, Table.CHAT):
            assert _allowed(statements, f"Data{table.value.capitalize()}Table") >= WRITE_ACTIONS, (handler, table)
        users = _allowed(statements, "DataUsersTable")
        assert users >= {"dynamodb:GetItem", "dynamodb:Query"}, handler
        assert not users & WRITE_ACTIONS, handler
        for table in (Table.AUTH, Table.STREAMS, Table.VODS):
            assert not _allowed(statements, f"Data{table.value.capitalize()}Table"), (handler, table)


def test_the_chat_event_consumer_has_time_to_keep_a_long_broadcasts_chat(aws_app: Synthesized) -> None:
    _, events = _by_handler(aws_app.template("Api"))[CHAT_EVENTS]
    assert events["Properties"]["Timeout"] == EVENTS_TIMEOUT_SECONDS >= 300


def test_the_vods_api_may_read_the_chat_table_for_replays_and_never_write_it(aws_app: Synthesized) -> None:
    template = aws_app.template("Api")
    _, vods = _by_handler(template)["functions.vods.handler.handler"]
    chat = _allowed(_policy_statements(template, vods), "DataChatTable")
    assert chat >= {"dynamodb:GetItem", "dynamodb:Query"}
    assert not chat & WRITE_ACTIONS


def test_only_posting_functions_may_manage_connections(aws_app: Synthesized) -> None:
    template = aws_app.template("Api")
    functions = _by_handler(template)
    for handler in CHAT_HANDLERS:
        statements = _policy_statements(template, functions[handler][1])
        granted = [s for s in statements if "execute-api:ManageConnections" in _actions(s)]
        assert bool(granted) == (handler in POSTERS), handler
        for statement in granted:
            resource = json.dumps(statement["Resource"])
            assert _websocket_api(template) in resource
            assert f"/{aws_app.stage}/*/@connections/*" in resource


def test_fanout_queue_feeds_the_fanout_function_in_small_batches(aws_app: Synthesized) -> None:
    template = aws_app.template("Api")
    functions = _by_handler(template)
    queues = template.find_resources("AWS::SQS::Queue")
    (fanout_queue,) = [q for q, res in queues.items() if "RedrivePolicy" in res["Properties"]]
    props = queues[fanout_queue]["Properties"]
    assert props["VisibilityTimeout"] >= 6 * functions[FANOUT][1]["Properties"]["Timeout"]
    assert props["SqsManagedSseEnabled"] is True
    assert props["RedrivePolicy"]["maxReceiveCount"] == 3
    dlq = props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    assert queues[dlq]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [fanout_queue, "Arn"]},
            "FunctionName": {"Ref": functions[FANOUT][0]},
            "BatchSize": 1,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )
    for handler in CHAT_HANDLERS:
        statements = _policy_statements(template, functions[handler][1])
        assert "sqs:SendMessage" in _allowed(statements, fanout_queue), handler
        assert ("sqs:ReceiveMessage" in _allowed(statements, fanout_queue)) == (handler == FANOUT), handler
        variables = functions[handler][1]["Properties"]["Environment"]["Variables"]
        assert variables[ENV_CHAT_FANOUT_QUEUE_URL] == {"Ref": fanout_queue}


def test_every_queue_is_encrypted_and_tls_only_in_aws(aws_app: Synthesized, local_app: Synthesized) -> None:
    template = aws_app.template("Api")
    template.all_resources_properties("AWS::SQS::Queue", {"SqsManagedSseEnabled": True})
    queues = set(template.find_resources("AWS::SQS::Queue"))
    tls_only = Match.array_with(
        [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
    )
    guarded = template.find_resources(
        "AWS::SQS::QueuePolicy", {"Properties": {"PolicyDocument": {"Statement": tls_only}}}
    )
    assert {p["Properties"]["Queues"][0]["Ref"] for p in guarded.values()} == queues
    # The emulator is plain HTTP on loopback.
    assert "SecureTransport" not in json.dumps(local_app.template("Api").find_resources("AWS::SQS::QueuePolicy"))


@pytest.mark.parametrize(
    ("handler", "detail_types"),
    [
        (CHAT_EVENTS, ["StreamStarted", "StreamEnded", "VodReady", "ClipCreated", "ClipDeleted"]),
        (STREAMS_EVENTS, ["ViewerCountChanged"]),
    ],
)
def test_event_consumers_retry_and_keep_what_fails(aws_app: Synthesized, handler: str, detail_types: list[str]) -> None:
    template = aws_app.template("Api")
    function_id, _ = _by_handler(template)[handler]
    rules = template.find_resources(
        "AWS::Events::Rule",
        {
            "Properties": {
                "Targets": Match.array_with([Match.object_like({"Arn": {"Fn::GetAtt": [function_id, "Arn"]}})])
            }
        },
    )
    ((_, rule),) = rules.items()
    props = rule["Properties"]
    assert props["EventPattern"] == {"source": [EVENT_SOURCE], "detail-type": detail_types}
    # On the shared bus (the data stack's), not the default one.
    assert "Fn::ImportValue" in props["EventBusName"]
    (target,) = props["Targets"]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2
    dlq = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": {"Ref": function_id},
            "MaximumRetryAttempts": 2,
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [dlq, "Arn"]}}},
        },
    )


def test_viewer_counts_go_to_the_streams_table(aws_app: Synthesized) -> None:
    template = aws_app.template("Api")
    _, fn = _by_handler(template)[STREAMS_EVENTS]
    variables = fn["Properties"]["Environment"]["Variables"]
    assert {name for name in variables if name.endswith("_TABLE")} == {table_env_var(Table.STREAMS)}
    assert variables["POWERTOOLS_SERVICE_NAME"] == Service.STREAMS.value
    statements = _policy_statements(template, fn)
    assert _allowed(statements, "DataStreamsTable") >= WRITE_ACTIONS
    for table in Table:
        if table is not Table.STREAMS:
            assert not _allowed(statements, f"Data{table.value.capitalize()}Table"), table


def test_outputs_name_the_websocket_api_url_and_stage(aws_app: Synthesized) -> None:
    template = aws_app.template("Api")
    outputs = template.find_outputs("*")
    assert outputs[OUTPUT_WEBSOCKET_API_ID]["Value"] == {"Ref": _websocket_api(template)}
    assert outputs[OUTPUT_WEBSOCKET_STAGE]["Value"] == aws_app.stage
    url = outputs[OUTPUT_WEBSOCKET_URL]["Value"]["Fn::Join"][1]
    assert url[0] == "wss://"
    assert url[-1] == f"/{aws_app.stage}"


def test_local_chat_functions_trace_nothing(local_app: Synthesized) -> None:
    functions = _by_handler(local_app.template("Api"))
    for handler in (*CHAT_HANDLERS, STREAMS_EVENTS):
        props = functions[handler][1]["Properties"]
        assert "TracingConfig" not in props
        assert props["Environment"]["Variables"]["POWERTOOLS_TRACE_DISABLED"] == "true"


@pytest.mark.parametrize(
    ("endpoint", "scheme"), [("http://127.0.0.1:4566", "ws://127.0.0.1:4566"), ("https://x.test", "wss://x.test")]
)
def test_local_websocket_url_is_path_style(endpoint: str, scheme: str) -> None:
    outputs = {OUTPUT_WEBSOCKET_API_ID: "abc123", OUTPUT_WEBSOCKET_STAGE: "local"}
    deployment = Deployment(endpoint=endpoint, stage="local", outputs=outputs)
    assert deployment.websocket_url == f"{scheme}/_aws/execute-api/abc123/local"
