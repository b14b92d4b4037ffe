"""The monitoring stack (AWS shape only): an alarm for every dead-letter queue and every Lambda,
the HTTP 5xx rate, transcode speed and upload failures, all notifying one encrypted topic, and a
dashboard over every metric family the platform publishes."""

import json
from collections.abc import Mapping
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match, Template
from pydantic import ValidationError

from infra.config import InfraConfig
from infra.constants import (
    CTX_ALARM_EMAIL,
    OUTPUT_ALARM_TOPIC_ARN,
    OUTPUT_DASHBOARD_NAME,
    OUTPUT_DASHBOARD_URL,
    stack_name,
)
from infra.constructs.observability import (
    HTTP_5XX_RATE_EXPRESSION,
    HTTP_5XX_RATE_PERCENT,
    TRANSCODE_SPEED_FLOOR,
    ObservabilityConstruct,
)
from letslive.constants import POWERTOOLS_NAMESPACE, ChatMetric, IngestMetric, Table
from tests.infra.conftest import Synthesized

Resource = Mapping[str, Any]


def _alarms(app: Synthesized) -> Mapping[str, Resource]:
    return app.template("Monitoring").find_resources("AWS::CloudWatch::Alarm")


def _topic_id(app: Synthesized) -> str:
    (topic_id,) = app.template("Monitoring").find_resources("AWS::SNS::Topic")
    return topic_id


def _single_metric_alarms(app: Synthesized, namespace: str, metric: str) -> list[Resource]:
    return [
        alarm["Properties"]
        for alarm in _alarms(app).values()
        if alarm["Properties"].get("Namespace") == namespace and alarm["Properties"].get("MetricName") == metric
    ]


def _imported(value: Any) -> str:
    """The export an alarm dimension imports from another stack (it names the logical id)."""
    assert isinstance(value, dict), value
    assert "Fn::ImportValue" in value, value
    name: str = value["Fn::ImportValue"]
    return name


def _dead_letter_queues(app: Synthesized) -> set[str]:
    """Logical ids of the API stack's queues that something dead-letters into: an SQS redrive
    policy, an EventBridge target's dead-letter config or a Lambda on-failure destination."""
    template = app.template("Api")
    queues = set(template.find_resources("AWS::SQS::Queue"))
    found: set[str] = set()
    for resource in template.to_json()["Resources"].values():
        props = resource.get("Properties", {})
        refs = [
            props.get("RedrivePolicy", {}).get("deadLetterTargetArn"),
            props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"),
            *(target.get("DeadLetterConfig", {}).get("Arn") for target in props.get("Targets", [])),
        ]
        for ref in refs:
            if isinstance(ref, dict) and "Fn::GetAtt" in ref and ref["Fn::GetAtt"][0] in queues:
                found.add(ref["Fn::GetAtt"][0])
    return found


def _dashboard_body(app: Synthesized) -> dict[str, Any]:
    """The dashboard's JSON, with every CloudFormation token (a region, an imported name)
    replaced by a placeholder: tokens only ever stand inside JSON strings there."""
    (dashboard,) = app.template("Monitoring").find_resources("AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    parsed: dict[str, Any] = json.loads("".join(part if isinstance(part, str) else "TOKEN" for part in parts))
    return parsed


def _dashboard_metrics(app: Synthesized) -> list[list[Any]]:
    return [metric for widget in _dashboard_body(app)["widgets"] for metric in widget["properties"].get("metrics", [])]


# --- shape ------------------------------------------------------------------------------------


def test_only_the_aws_shape_has_a_monitoring_stack(aws_app: Synthesized, local_app: Synthesized) -> None:
    assert aws_app.app.node.try_find_child(stack_name(aws_app.stage, "Monitoring")) is not None
    assert local_app.app.node.try_find_child(stack_name(local_app.stage, "Monitoring")) is None


def test_outputs_name_the_dashboard_and_the_topic(aws_app: Synthesized) -> None:
    outputs = aws_app.template("Monitoring").find_outputs("*")
    assert {OUTPUT_DASHBOARD_NAME, OUTPUT_DASHBOARD_URL, OUTPUT_ALARM_TOPIC_ARN} <= set(outputs)
    assert outputs[OUTPUT_ALARM_TOPIC_ARN]["Value"] == {"Ref": _topic_id(aws_app)}
    url = json.dumps(outputs[OUTPUT_DASHBOARD_URL]["Value"])
    assert "cloudwatch/home?region=" in url
    assert "#dashboards/dashboard/" in url


# --- the topic --------------------------------------------------------------------------------


def test_the_topic_is_encrypted_with_a_rotated_key_cloudwatch_may_use(aws_app: Synthesized) -> None:
    template = aws_app.template("Monitoring")
    (key_id,) = template.find_resources("AWS::KMS::Key", {"Properties": {"EnableKeyRotation": True}})
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}})
    template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                            }
                        )
                    ]
                )
            }
        },
    )
    # Publishing over plain HTTP is refused.
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )


def test_without_an_alarm_email_nobody_is_subscribed(aws_app: Synthesized) -> None:
    aws_app.template("Monitoring").resource_count_is("AWS::SNS::Subscription", 0)


def test_every_alarm_notifies_the_topic(aws_app: Synthesized) -> None:
    alarms = _alarms(aws_app)
    assert alarms
    for alarm in alarms.values():
        props = alarm["Properties"]
        assert props["AlarmActions"] == [{"Ref": _topic_id(aws_app)}], props["AlarmName"]
        assert props["TreatMissingData"] == "notBreaching", props["AlarmName"]
        assert props["AlarmName"].startswith(f"letslive-{aws_app.stage}-")


# --- the alarms ---------------------------------------------------------------------------------


def test_every_dead_letter_queue_has_a_backlog_alarm(aws_app: Synthesized) -> None:
    queues = _dead_letter_queues(aws_app)
    assert len(queues) >= 3  # chat fan-out, chat events, viewer counts
    alarms = _single_metric_alarms(aws_app, "AWS/SQS", "ApproximateNumberOfMessagesVisible")
    watched = set()
    for alarm in alarms:
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
        assert alarm["Statistic"] == "Maximum"
        (dimension,) = alarm["Dimensions"]
        assert dimension["Name"] == "QueueName"
        export = _imported(dimension["Value"])
        watched |= {queue for queue in queues if queue in export}
    assert watched == queues
    assert len(alarms) == len(queues)


def test_every_lambda_has_an_errors_alarm(aws_app: Synthesized) -> None:
    functions = set(aws_app.template("Api").find_resources("AWS::Lambda::Function"))
    alarms = _single_metric_alarms(aws_app, "AWS/Lambda", "Errors")
    watched = set()
    for alarm in alarms:
        assert (alarm["Threshold"], alarm["ComparisonOperator"], alarm["Statistic"]) == (
            0,
            "GreaterThanThreshold",
            "Sum",
        )
        (dimension,) = alarm["Dimensions"]
        export = _imported(dimension["Value"])
        watched |= {fn for fn in functions if fn in export}
    assert watched == functions
    assert len(alarms) == len(functions)


def test_the_http_5xx_rate_alarm_divides_5xx_by_the_request_count(aws_app: Synthesized) -> None:
    (alarm,) = [a["Properties"] for a in _alarms(aws_app).values() if a["Properties"]["AlarmName"].endswith("5xx-rate")]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (HTTP_5XX_RATE_PERCENT, "GreaterThanThreshold")
    queries = {query["Id"]: query for query in alarm["Metrics"]}
    (expression,) = [query for query in queries.values() if "Expression" in query]
    assert expression["Expression"] == HTTP_5XX_RATE_EXPRESSION
    assert expression["ReturnData"] is True
    http_api = next(
        iter(aws_app.template("Api").find_resources("AWS::ApiGatewayV2::Api", {"Properties": {"ProtocolType": "HTTP"}}))
    )
    for metric_id, name in (("server_errors", "5xx"), ("requests", "Count")):
        stat = queries[metric_id]["MetricStat"]
        assert (stat["Metric"]["Namespace"], stat["Metric"]["MetricName"], stat["Stat"]) == (
            "AWS/ApiGateway",
            name,
            "Sum",
        )
        (dimension,) = stat["Metric"]["Dimensions"]
        assert dimension["Name"] == "ApiId"
        assert http_api in _imported(dimension["Value"])
        assert queries[metric_id]["ReturnData"] is False


def _ingest_alarm(app: Synthesized, metric: IngestMetric) -> Resource:
    (alarm,) = [
        a["Properties"]
        for a in _alarms(app).values()
        if any(
            query.get("MetricStat", {}).get("Metric", {}).get("MetricName") == metric.value
            for query in a["Properties"].get("Metrics", [])
        )
    ]
    (query,) = alarm["Metrics"]
    stat = query["MetricStat"]
    assert stat["Metric"]["Namespace"] == POWERTOOLS_NAMESPACE
    assert stat["Metric"]["Dimensions"] == [
        {"Name": "service", "Value": "ingest"},
        {"Name": "stage", "Value": app.stage},
    ]
    return {**alarm, "Period": stat["Period"], "Stat": stat["Stat"]}


def test_transcode_slower_than_real_time_for_a_minute_alarms(aws_app: Synthesized) -> None:
    alarm = _ingest_alarm(aws_app, IngestMetric.TRANSCODE_SPEED)
    assert TRANSCODE_SPEED_FLOOR == 1.0
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1.0, "LessThanThreshold")
    assert (alarm["Period"], alarm["EvaluationPeriods"]) == (60, 1)
    # No broadcast, no speed: not an incident.
    assert alarm["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize(
    "metric", [IngestMetric.UPLOAD_FAILURES, IngestMetric.SEGMENTS_DROPPED, IngestMetric.LOOP_ERRORS]
)
def test_any_upload_failure_lost_segment_or_loop_error_alarms(aws_app: Synthesized, metric: IngestMetric) -> None:
    alarm = _ingest_alarm(aws_app, metric)
    assert (alarm["Threshold"], alarm["ComparisonOperator"], alarm["Stat"]) == (0, "GreaterThanThreshold", "Sum")


# --- the dashboard ------------------------------------------------------------------------------


def test_the_dashboard_graphs_every_metric_family(aws_app: Synthesized) -> None:
    metrics = _dashboard_metrics(aws_app)
    named = {(metric[0], metric[1]) for metric in metrics if isinstance(metric[0], str) and len(metric) > 1}
    expected = {
        *((POWERTOOLS_NAMESPACE, metric.value) for metric in IngestMetric),
        (POWERTOOLS_NAMESPACE, ChatMetric.MESSAGES_SENT.value),
        ("AWS/ApiGateway", "Count"),
        ("AWS/ApiGateway", "4xx"),
        ("AWS/ApiGateway", "5xx"),
        ("AWS/ApiGateway", "Latency"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Duration"),
        ("AWS/DynamoDB", "ThrottledRequests"),
        ("AWS/DynamoDB", "ReadThrottleEvents"),
        ("AWS/DynamoDB", "WriteThrottleEvents"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
    }
    assert expected <= named, expected - named


def test_custom_metrics_are_read_with_the_dimensions_they_are_written_with(aws_app: Synthesized) -> None:
    for metric in _dashboard_metrics(aws_app):
        if metric[0] != POWERTOOLS_NAMESPACE:
            continue
        dimensions = dict(zip(metric[2:-1:2], metric[3:-1:2], strict=True))
        service = "ingest" if metric[1] in {m.value for m in IngestMetric} else "chat"
        assert dimensions == {"service": service, "stage": aws_app.stage}, metric


def test_live_broadcasts_sum_over_tasks(aws_app: Synthesized) -> None:
    (widget,) = [w for w in _dashboard_body(aws_app)["widgets"] if w["properties"].get("title") == "Live broadcasts"]
    metrics = widget["properties"]["metrics"]
    expressions = [m[0]["expression"] for m in metrics if isinstance(m[0], dict)]
    assert expressions == ["per_task * tasks"]
    by_id = {m[-1]["id"]: m for m in metrics if isinstance(m[0], str) and "id" in m[-1]}
    assert by_id["per_task"][:2] == [POWERTOOLS_NAMESPACE, IngestMetric.ACTIVE_BROADCASTS.value]
    assert by_id["tasks"][:2] == ["ECS/ContainerInsights", "RunningTaskCount"]


def test_dynamodb_throttles_are_graphed_for_every_table(aws_app: Synthesized) -> None:
    events = [m for m in _dashboard_metrics(aws_app) if m[:2] == ["AWS/DynamoDB", "ReadThrottleEvents"]]
    assert len(events) == len(Table)


# --- the construct on its own: the alarm e-mail -------------------------------------------------


def _monitored_stack(config: InfraConfig) -> Template:
    """The construct over a throwaway stack's resources (no bundling, no other stack)."""
    app = App()
    stack = Stack(app, "Monitored")
    fn = lambda_.Function(
        stack,
        "Fn",
        runtime=lambda_.Runtime.PYTHON_3_12,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context): return None"),
    )
    table = dynamodb.Table(
        stack, "Table", partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING)
    )
    ObservabilityConstruct(
        stack,
        "Observability",
        config=config,
        http_api=apigwv2.HttpApi(stack, "Api"),
        functions={"fn": fn},
        dead_letter_queues={"dlq": sqs.Queue(stack, "Dlq")},
        tables={Table.USERS: table},
    )
    return Template.from_stack(stack)


def test_an_alarm_email_is_subscribed_to_the_topic() -> None:
    template = _monitored_stack(InfraConfig(alarm_email="oncall@example.com"))
    template.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "oncall@example.com"})
    # Without an ingest service the dashboard still graphs the per-task average.
    template.resource_count_is("AWS::CloudWatch::Dashboard", 1)


@pytest.mark.parametrize("email", ["not-an-address", "a@b", "two@at@example.com", "with space@example.com"])
def test_an_alarm_email_that_is_not_an_address_is_refused(email: str) -> None:
    with pytest.raises(ValidationError):
        InfraConfig.from_context({CTX_ALARM_EMAIL: email}.get)


def test_the_alarm_email_comes_from_context() -> None:
    assert InfraConfig.from_context({CTX_ALARM_EMAIL: " ops@example.com "}.get).alarm_email == "ops@example.com"
    assert InfraConfig.from_context({}.get).alarm_email is None
