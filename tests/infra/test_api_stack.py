import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk.assertions import Match

from infra.config import AWS_LAMBDA_PYTHON
from infra.constants import OUTPUT_HTTP_API_ID, OUTPUT_HTTP_API_URL
from infra.constructs.http_api import ROUTE_THROTTLES
from letslive.constants import (
    ENV_RESTREAM_ALLOW_PRIVATE_HOSTS,
    ENV_RESTREAM_KEY,
    RESTREAM_KEY_PURPOSE,
    SERVICE_EXTRA_PREFIXES,
    SERVICE_READ_TABLES,
    SERVICE_TABLES,
    TABLE_GSI,
    Service,
    Table,
    table_env_var,
)
from tests.infra.conftest import Synthesized


def _functions(app: Synthesized) -> dict[str, Mapping[str, Any]]:
    """The HTTP services' Lambda functions of the API stack by service, from their handler path."""
    found = app.template("Api").find_resources("AWS::Lambda::Function")
    by_handler = {res["Properties"]["Handler"]: res for res in found.values()}
    return {service.value: by_handler[f"functions.{service.value}.handler.handler"] for service in Service}


def _actions(statement: Mapping[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def _tables(service: str) -> tuple[Table, ...]:
    return (*SERVICE_TABLES[Service(service)], *SERVICE_READ_TABLES.get(Service(service), ()))


def test_one_function_per_http_service(aws_app: Synthesized) -> None:
    functions = _functions(aws_app)
    assert set(functions) == {s.value for s in Service}
    for service, fn in functions.items():
        props = fn["Properties"]
        assert props["Handler"] == f"functions.{service}.handler.handler"
        assert props["Runtime"] == f"python{AWS_LAMBDA_PYTHON}"
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert len(props["Layers"]) == 1


def test_each_function_is_told_only_its_own_tables(aws_app: Synthesized) -> None:
    for service, fn in _functions(aws_app).items():
        variables = fn["Properties"]["Environment"]["Variables"]
        owned = {table_env_var(t) for t in _tables(service)}
        table_vars = {name for name in variables if name.endswith("_TABLE")}
        assert table_vars == owned


def test_each_function_may_touch_only_its_own_tables(aws_app: Synthesized) -> None:
    template = aws_app.template("Api")
    roles = {fn["Properties"]["Role"]["Fn::GetAtt"][0]: service for service, fn in _functions(aws_app).items()}
    policies = template.find_resources("AWS::IAM::Policy")
    checked = set()
    for policy in policies.values():
        (role,) = [r["Ref"] for r in policy["Properties"]["Roles"]]
        service = roles.get(role)
        if service is None:
            continue
        text = json.dumps(policy["Properties"]["PolicyDocument"])
        for table in Table:
            imported = f"Data{table.value.capitalize()}Table"
            assert (imported in text) == (table in _tables(service)), (service, table)
        checked.add(service)
    assert checked == {s.value for s in Service}


def test_http_api_routes_each_service_prefix_to_its_function(aws_app: Synthesized) -> None:
    template = aws_app.template("Api")
    (http_api,) = template.find_resources("AWS::ApiGatewayV2::Api", {"Properties": {"ProtocolType": "HTTP"}})
    routes = template.find_resources("AWS::ApiGatewayV2::Route", {"Properties": {"ApiId": {"Ref": http_api}}})
    prefixes = [p for s in Service for p in (s.value, *SERVICE_EXTRA_PREFIXES.get(s, ()))]
    assert {r["Properties"]["RouteKey"] for r in routes.values()} == {
        key for p in prefixes for key in (f"ANY /{p}", f"ANY /{p}/{{proxy+}}")
    } | set(ROUTE_THROTTLES)
    assert prefixes.count("clips") == 1  # the vods service's
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Integration", {"IntegrationType": "AWS_PROXY", "PayloadFormatVersion": "2.0"}
    )
    assert {OUTPUT_HTTP_API_ID, OUTPUT_HTTP_API_URL} <= set(template.find_outputs("*"))


def test_functions_log_to_groups_with_retention(aws_app: Synthesized) -> None:
    template = aws_app.template("Api")
    groups = template.find_resources("AWS::Logs::LogGroup")
    template.all_resources_properties("AWS::Logs::LogGroup", {"RetentionInDays": Match.any_value()})
    # Every function, the deploy-time signing key provider too, has its own group; the others are
    # the two API stages' access logs.
    functions = template.find_resources("AWS::Lambda::Function")
    logged = {fn["Properties"]["LoggingConfig"]["LogGroup"]["Ref"] for fn in functions.values()}
    assert len(logged) == len(functions)
    stages = template.find_resources("AWS::ApiGatewayV2::Stage")
    access_logged = {
        stage["Properties"]["AccessLogSettings"]["DestinationArn"]["Fn::GetAtt"][0] for stage in stages.values()
    }
    assert len(stages) == len(access_logged) == 2
    assert logged | access_logged == set(groups)


def test_each_function_may_write_only_its_own_log_group(aws_app: Synthesized) -> None:
    template = aws_app.template("Api")
    roles = template.find_resources("AWS::IAM::Role")
    policies = template.find_resources("AWS::IAM::Policy").values()
    for fn in template.find_resources("AWS::Lambda::Function").values():
        role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
        # Not AWSLambdaBasicExecutionRole, which may write to every log group in the account.
        assert "ManagedPolicyArns" not in roles[role]["Properties"]
        statements = [
            statement
            for policy in policies
            if {"Ref": role} in policy["Properties"]["Roles"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        ]
        logs = [s for s in statements if any(a.startswith("logs:") for a in _actions(s))]
        own_group = {"Fn::GetAtt": [fn["Properties"]["LoggingConfig"]["LogGroup"]["Ref"], "Arn"]}
        assert [s["Resource"] for s in logs] == [own_group], fn["Properties"]["Handler"]


def test_table_grants_name_the_index_instead_of_a_wildcard(aws_app: Synthesized) -> None:
    text = json.dumps(aws_app.template("Api").find_resources("AWS::IAM::Policy"))
    assert f"/index/{TABLE_GSI}" in text
    assert "/index/*" not in text


def test_both_api_stages_write_json_access_logs(aws_app: Synthesized, local_app: Synthesized) -> None:
    for app in (aws_app, local_app):
        stages = app.template("Api").find_resources("AWS::ApiGatewayV2::Stage")
        for stage in stages.values():
            fields = json.loads(stage["Properties"]["AccessLogSettings"]["Format"])
            assert fields["requestId"] == "$context.requestId"
            assert fields["status"] == "$context.status"
    # API Gateway takes WebSocket access logs only once the account has a CloudWatch role; in AWS
    # the role outlives the stack, as the account setting pointing at it does.
    template = aws_app.template("Api")
    (account,) = template.find_resources("AWS::ApiGateway::Account")
    (websocket_stage,) = [
        stage
        for stage in template.find_resources("AWS::ApiGatewayV2::Stage").values()
        if stage["Properties"]["StageName"] == aws_app.stage
    ]
    assert account in websocket_stage["DependsOn"]
    role = template.find_resources("AWS::ApiGateway::Account")[account]["Properties"]["CloudWatchRoleArn"]
    assert template.find_resources("AWS::IAM::Role")[role["Fn::GetAtt"][0]]["DeletionPolicy"] == "Retain"


def test_local_flag_matches_the_emulator_interpreter_and_disables_tracing(local_app: Synthesized) -> None:
    import sys

    for fn in _functions(local_app).values():
        props = fn["Properties"]
        assert props["Runtime"] == f"python{sys.version_info.major}.{sys.version_info.minor}"
        assert "TracingConfig" not in props
        assert props["Environment"]["Variables"]["POWERTOOLS_TRACE_DISABLED"] == "true"


def _asset_dir(app: Synthesized, resource: Mapping[str, Any]) -> Path:
    """The staged asset behind a function or layer: its S3 key is `<asset hash>.zip`."""
    props = resource["Properties"]
    key: str = (props.get("Code") or props["Content"])["S3Key"]
    return app.outdir / f"asset.{key.removesuffix('.zip')}"


def test_function_assets_hold_their_own_service_and_the_shared_code(aws_app: Synthesized) -> None:
    for service, fn in _functions(aws_app).items():
        package = _asset_dir(aws_app, fn) / "functions"
        assert (package / service / "handler.py").is_file()
        assert (package / "common" / "entry.py").is_file()
        others = {s.value for s in Service} - {service}
        assert not any((package / other).exists() for other in others)


def test_layer_asset_holds_the_domain_package_and_wheels_for_the_lambda_runtime(aws_app: Synthesized) -> None:
    layers = aws_app.template("Api").find_resources("AWS::Lambda::LayerVersion")
    (layer,) = [resource for name, resource in layers.items() if name.startswith("HttpDomainLayer")]
    python = _asset_dir(aws_app, layer) / "python"
    assert (python / "letslive" / "__init__.py").is_file()
    for package in ("fastapi", "mangum", "aws_lambda_powertools", "pynamodb", "pydantic_settings", "boto3"):
        assert (python / package).is_dir(), package
    tag = AWS_LAMBDA_PYTHON.replace(".", "")
    (core,) = python.glob("pydantic_core/_pydantic_core*.so")
    assert f"cpython-{tag}-x86_64-linux-gnu" in core.name
    assert not (python / "av").exists()  # PyAV is the clip downloads' own layer


def test_signing_key_is_made_at_deploy_time_and_only_auth_reads_it(aws_app: Synthesized) -> None:
    template = aws_app.template("Api")
    template.resource_count_is("Custom::SigningKey", 1)
    # The other secret is the CloudFront origin-verify value (`test_cdn_stack`).
    (secret_id,) = (s for s in template.find_resources("AWS::SecretsManager::Secret") if s.startswith("SigningKey"))
    functions = _functions(aws_app)
    for service, fn in functions.items():
        variables = fn["Properties"]["Environment"]["Variables"]
        assert "Fn::GetAtt" in json.dumps(variables["LETSLIVE_JWKS"]), service
        assert ("LETSLIVE_SIGNING_KEY_SECRET" in variables) == (service == Service.AUTH.value)
    readers = set()
    roles = {fn["Properties"]["Role"]["Fn::GetAtt"][0]: service for service, fn in functions.items()}
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if "secretsmanager:GetSecretValue" in json.dumps(policy) and secret_id in json.dumps(policy):
            readers |= {roles[r["Ref"]] for r in policy["Properties"]["Roles"] if r["Ref"] in roles}
    assert readers == {Service.AUTH.value}


def test_users_publish_on_the_event_bus(aws_app: Synthesized) -> None:
    aws_app.template("Data").resource_count_is("AWS::Events::EventBus", 1)
    variables = _functions(aws_app)[Service.USERS.value]["Properties"]["Environment"]["Variables"]
    assert "LETSLIVE_EVENT_BUS" in variables
    aws_app.template("Api").has_resource_properties(
        "AWS::IAM::Policy",
        {"PolicyDocument": {"Statement": Match.array_with([Match.object_like({"Action": "events:PutEvents"})])}},
    )


def test_the_sweeper_runs_every_minute_with_least_privilege(aws_app: Synthesized) -> None:
    """Dead workers' broadcasts are ended on a schedule: a rate(1 minute) rule targets the sweeper,
    which may read/write the streams and VOD tables, read and write objects only under the
    broadcasts prefix, and put events on the bus."""
    template = aws_app.template("Api")
    functions = template.find_resources("AWS::Lambda::Function")
    (sweeper_id,) = [
        name for name, res in functions.items() if res["Properties"]["Handler"] == "functions.streams.sweeper.handler"
    ]
    rules = template.find_resources("AWS::Events::Rule", {"Properties": {"ScheduleExpression": "rate(1 minute)"}})
    (rule,) = rules.values()
    assert rule["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [sweeper_id, "Arn"]}
    role_id = functions[sweeper_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = [
        res
        for res in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in res["Properties"]["Roles"]
    ]
    statements = [s for policy in policies for s in policy["Properties"]["PolicyDocument"]["Statement"]]
    s3 = [s for s in statements if any(a.startswith("s3:") for a in _actions(s))]
    objects = [s for s in s3 if set(_actions(s)) == {"s3:GetObject", "s3:PutObject"}]
    assert len(objects) == 1
    assert json.dumps(objects[0]["Resource"]).endswith('"/hls/broadcasts/*"]]}')
    assert not [a for s in s3 for a in _actions(s) if a not in ("s3:GetObject", "s3:PutObject", "s3:ListBucket")]
    tables = json.dumps([s["Resource"] for s in statements if any(a.startswith("dynamodb:") for a in _actions(s))])
    assert "DataStreamsTable" in tables
    assert "DataVodsTable" in tables
    for table in ("DataAuthTable", "DataChatTable", "DataUsersTable", "DataConnectionsTable"):
        assert table not in tables


def test_the_stage_and_the_costly_auth_routes_are_throttled(aws_app: Synthesized, local_app: Synthesized) -> None:
    """Issue 14 item 3: sign-up and login (an argon2id hash each) get throttles of their own."""
    template = aws_app.template("Api")
    (http_api,) = template.find_resources("AWS::ApiGatewayV2::Api", {"Properties": {"ProtocolType": "HTTP"}})
    (stage,) = template.find_resources(
        "AWS::ApiGatewayV2::Stage", {"Properties": {"ApiId": {"Ref": http_api}}}
    ).values()
    props = stage["Properties"]
    assert props["DefaultRouteSettings"] == {"ThrottlingBurstLimit": 2000, "ThrottlingRateLimit": 1000}
    assert props["RouteSettings"] == {
        "POST /auth/signup": {"ThrottlingRateLimit": 5, "ThrottlingBurstLimit": 20},
        "POST /auth/login": {"ThrottlingRateLimit": 50, "ThrottlingBurstLimit": 100},
    }
    routes = template.find_resources("AWS::ApiGatewayV2::Route", {"Properties": {"ApiId": {"Ref": http_api}}})
    by_key = {r["Properties"]["RouteKey"]: logical_id for logical_id, r in routes.items()}
    # The routes exist before the stage names them, and go to the auth function like `/auth/*`.
    assert {by_key["POST /auth/signup"], by_key["POST /auth/login"]} <= set(stage["DependsOn"])
    auth_target = routes[by_key["ANY /auth/{proxy+}"]]["Properties"]["Target"]
    assert all(routes[by_key[key]]["Properties"]["Target"] == auth_target for key in ROUTE_THROTTLES)
    # Only locally (every caller is 127.0.0.1 there) is the per-address sign-up limit lifted.
    for app, lifted in ((aws_app, False), (local_app, True)):
        variables = _functions(app)["auth"]["Properties"]["Environment"]["Variables"]
        assert ("LETSLIVE_SIGNUP_MAX_PER_ADDRESS" in variables) == lifted


def _logical_ids(app: Synthesized) -> dict[str, str]:
    """The HTTP services' functions' logical ids by service."""
    found = app.template("Api").find_resources("AWS::Lambda::Function")
    by_handler = {res["Properties"]["Handler"]: logical_id for logical_id, res in found.items()}
    return {service.value: by_handler[f"functions.{service.value}.handler.handler"] for service in Service}


def _integration_targets(app: Synthesized) -> dict[str, Any]:
    """What each HTTP API integration invokes, by the service whose routes use it."""
    template = app.template("Api")
    (http_api,) = template.find_resources("AWS::ApiGatewayV2::Api", {"Properties": {"ProtocolType": "HTTP"}})
    integrations = template.find_resources(
        "AWS::ApiGatewayV2::Integration", {"Properties": {"ApiId": {"Ref": http_api}}}
    )
    routes = template.find_resources("AWS::ApiGatewayV2::Route", {"Properties": {"ApiId": {"Ref": http_api}}})
    targets: dict[str, Any] = {}
    for route in routes.values():
        service = route["Properties"]["RouteKey"].split(" ", 1)[1].split("/")[1]
        integration = route["Properties"]["Target"]["Fn::Join"][1][1]["Ref"]
        uri = integrations[integration]["Properties"]["IntegrationUri"]
        assert targets.setdefault(service, uri) == uri, service
    return targets


def test_http_functions_snapshot_published_versions_and_the_api_invokes_their_live_alias(aws_app: Synthesized) -> None:
    """Issue 15: SnapStart restores published versions only, so API Gateway must invoke one (the
    `live` alias), never `$LATEST`; the alias follows the version each deploy publishes."""
    template = aws_app.template("Api")
    functions, ids = _functions(aws_app), _logical_ids(aws_app)
    versions = template.find_resources("AWS::Lambda::Version")
    aliases = template.find_resources("AWS::Lambda::Alias")
    targets = _integration_targets(aws_app)
    permissions = template.find_resources(
        "AWS::Lambda::Permission", {"Properties": {"Principal": "apigateway.amazonaws.com"}}
    )
    for service, fn in functions.items():
        assert fn["Properties"]["SnapStart"] == {"ApplyOn": "PublishedVersions"}
        assert fn["Properties"]["Runtime"] == f"python{AWS_LAMBDA_PYTHON}"
        (alias_id,) = [i for i, a in aliases.items() if a["Properties"]["FunctionName"] == {"Ref": ids[service]}]
        alias = aliases[alias_id]["Properties"]
        assert alias["Name"] == "live"
        version_id = alias["FunctionVersion"]["Fn::GetAtt"][0]
        assert versions[version_id]["Properties"]["FunctionName"] == {"Ref": ids[service]}
        assert targets[service] == {"Ref": alias_id}, service
        # API Gateway may invoke the alias (a permission on the function would not cover it).
        invokable = [p["Properties"]["FunctionName"] for p in permissions.values()]
        assert {"Ref": alias_id} in invokable
        assert {"Fn::GetAtt": [ids[service], "Arn"]} not in invokable


def test_the_local_shape_has_no_snapstart_and_invokes_the_functions_themselves(local_app: Synthesized) -> None:
    """The emulator's Python (3.11) has no SnapStart, and the e2e tests reconfigure `$LATEST` in
    place: locally the API invokes the functions, with no version or alias in between."""
    template = local_app.template("Api")
    ids = _logical_ids(local_app)
    for service, fn in _functions(local_app).items():
        assert "SnapStart" not in fn["Properties"]
        assert _integration_targets(local_app)[service] == {"Fn::GetAtt": [ids[service], "Arn"]}
    assert not template.find_resources("AWS::Lambda::Alias")


def test_restream_keys_are_sealed_by_the_streams_function_alone(aws_app: Synthesized, local_app: Synthesized) -> None:
    """A KMS key with rotation; the streams function may encrypt restream keys (their encryption
    context) and never decrypt; no other function may use the key. The ingest task decrypts
    (`test_ingest_stack`)."""
    data = aws_app.template("Data")
    ((key_id, key),) = data.find_resources("AWS::KMS::Key").items()
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"
    template = aws_app.template("Api")
    functions = _functions(aws_app)
    roles = {fn["Properties"]["Role"]["Fn::GetAtt"][0]: service for service, fn in functions.items()}
    users: dict[str, list[Mapping[str, Any]]] = {}
    for policy in template.find_resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if any(action.startswith("kms:") for action in _actions(statement)):
                for role in policy["Properties"]["Roles"]:
                    users.setdefault(roles.get(role["Ref"], role["Ref"]), []).append(statement)
    assert set(users) == {Service.STREAMS.value}
    (statement,) = users[Service.STREAMS.value]
    assert _actions(statement) == ["kms:Encrypt"]
    assert key_id in json.dumps(statement["Resource"])
    assert statement["Condition"] == {"StringEquals": {"kms:EncryptionContext:purpose": RESTREAM_KEY_PURPOSE}}
    for service, fn in functions.items():
        variables = fn["Properties"]["Environment"]["Variables"]
        assert (ENV_RESTREAM_KEY in variables) == (service == Service.STREAMS.value), service
        # Private destination hosts (the tests' nginx-rtmp on 127.0.0.1) only in the local shape.
        assert ENV_RESTREAM_ALLOW_PRIVATE_HOSTS not in variables
    local_streams = _functions(local_app)[Service.STREAMS.value]["Properties"]["Environment"]["Variables"]
    assert local_streams[ENV_RESTREAM_ALLOW_PRIVATE_HOSTS] == "true"
