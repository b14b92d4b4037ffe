"""The ingest tier (AWS shape only): VPC, Fargate service, Network Load Balancer, autoscaling."""

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from infra.app import build_app
from infra.constants import (
    CTX_INGEST_BROADCASTS_PER_TASK,
    CTX_INGEST_CERTIFICATE_ARN,
    CTX_INGEST_DOMAIN_NAME,
    CTX_INGEST_MAX_TASKS,
    CTX_INGEST_URL,
    CTX_STAGE,
    OUTPUT_EVENT_BUS,
    OUTPUT_INGEST_LOAD_BALANCER,
    OUTPUT_INGEST_RTMP_URL,
    OUTPUT_INGEST_RTMPS_URL,
    OUTPUT_MEDIA_BUCKET,
    OUTPUT_RESTREAM_KEY,
    stack_name,
    table_output,
)
from infra.constructs.functions import TABLE_READ_ACTIONS, TABLE_WRITE_ACTIONS
from infra.constructs.ingest import (
    CONTAINER_NAME,
    CPU_TARGET_PERCENT,
    DRAIN_TIMEOUT_SECONDS,
    HEALTH_PORT,
    INGEST_TABLES,
    RTMP_PORT,
    RTMPS_PORT,
    STOP_TIMEOUT_SECONDS,
    TASK_CPU,
    TASK_MEMORY_MIB,
)
from infra.stacks.ingest_stack import IngestStack
from letslive.constants import (
    ENV_AWS_ENDPOINT_URL,
    ENV_ECS_AGENT_URI,
    ENV_INGEST_DISK_BUDGET_MB,
    ENV_INGEST_DRAIN_TIMEOUT_SECONDS,
    ENV_INGEST_HEALTH_HOST,
    ENV_INGEST_HEALTH_PORT,
    ENV_INGEST_RESTREAM_VERIFY_TLS,
    ENV_INGEST_RTMP_HOST,
    ENV_INGEST_RTMP_PORT,
    ENV_INGEST_URL,
    ENV_INGEST_WORK_DIR,
    ENV_INGEST_WORKER_ID,
    ENV_RESTREAM_ALLOW_PRIVATE_HOSTS,
    ENV_RESTREAM_KEY,
    ENV_STAGE,
    INGEST_METRIC_SERVICE,
    POWERTOOLS_NAMESPACE,
    RESTREAM_KEY_PURPOSE,
    IngestMetric,
    Service,
    Table,
)
from localstack.deploy import Deployment
from localstack.emulator import EMULATOR_CREDENTIALS
from localstack.ingest import worker_env
from tests.infra.conftest import Synthesized
from workers.ingest.config import IngestSettings
from workers.ingest.health import HEALTH_PATH

TLS_STAGE = "tls"
INGEST_DOMAIN = "ingest.example.com"
INGEST_CERTIFICATE = "arn:aws:acm:eu-west-1:111122223333:certificate/12345678-1234-1234-1234-123456789012"
CONTEXT_INGEST_URL = "rtmps://live.example.com:443/live"


@pytest.fixture(scope="module")
def tls_app(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The AWS shape with an RTMPS certificate, scaling context, and an ingest URL given by context."""
    outdir = tmp_path_factory.mktemp("cdk-ingest-tls")
    context = {
        CTX_STAGE: TLS_STAGE,
        CTX_INGEST_DOMAIN_NAME: INGEST_DOMAIN,
        CTX_INGEST_CERTIFICATE_ARN: INGEST_CERTIFICATE,
        CTX_INGEST_MAX_TASKS: "4",
        CTX_INGEST_BROADCASTS_PER_TASK: "3",
        CTX_INGEST_URL: CONTEXT_INGEST_URL,
    }
    app = build_app(App(context=context, outdir=str(outdir)))
    app.synth()
    return Synthesized(app, outdir, TLS_STAGE)


def _ingest(app: Synthesized) -> Template:
    return app.template("Ingest")


def _one(template: Template, kind: str, props: Mapping[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    found = template.find_resources(kind, {"Properties": props} if props else None)
    assert len(found) == 1, (kind, list(found))
    ((logical_id, resource),) = found.items()
    return logical_id, resource["Properties"]


def _container(app: Synthesized) -> dict[str, Any]:
    _, task = _one(_ingest(app), "AWS::ECS::TaskDefinition")
    (container,) = task["ContainerDefinitions"]
    assert container["Name"] == CONTAINER_NAME
    return dict(container)


def _environment(app: Synthesized) -> dict[str, Any]:
    return {entry["Name"]: entry["Value"] for entry in _container(app)["Environment"]}


def _ref(logical_id: str, attribute: str = "GroupId") -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, attribute]}


# --- where it exists ----------------------------------------------------------------------------


def test_the_ingest_stack_exists_only_in_the_aws_shape(aws_app: Synthesized, local_app: Synthesized) -> None:
    def stacks(app: Synthesized) -> set[str]:
        return {child.node.id for child in app.app.node.children if isinstance(child, Stack)}

    assert stack_name("prod", "Ingest") in stacks(aws_app)
    # Locally the worker is a process beside the emulator (`make dev`).
    assert stacks(local_app) == {stack_name("local", "Data"), stack_name("local", "Api")}


# --- network ------------------------------------------------------------------------------------


def test_two_public_subnets_no_nat_and_free_gateway_endpoints(aws_app: Synthesized) -> None:
    template = _ingest(aws_app)
    subnets = template.find_resources("AWS::EC2::Subnet")
    assert len(subnets) == 2
    assert all(subnet["Properties"]["MapPublicIpOnLaunch"] is True for subnet in subnets.values())
    azs = [json.dumps(subnet["Properties"]["AvailabilityZone"]) for subnet in subnets.values()]
    assert len(set(azs)) == 2
    template.resource_count_is("AWS::EC2::NatGateway", 0)
    template.resource_count_is("AWS::EC2::InternetGateway", 1)
    endpoints = template.find_resources("AWS::EC2::VPCEndpoint")
    services = {json.dumps(e["Properties"]["ServiceName"]) for e in endpoints.values()}
    assert {e["Properties"]["VpcEndpointType"] for e in endpoints.values()} == {"Gateway"}
    assert len(services) == 2
    assert any(".s3" in s for s in services)
    assert any(".dynamodb" in s for s in services)


def test_vpc_flow_logs_record_all_traffic_to_a_log_group_with_retention(aws_app: Synthesized) -> None:
    template = _ingest(aws_app)
    vpc_id, _ = _one(template, "AWS::EC2::VPC")
    _, flow_log = _one(template, "AWS::EC2::FlowLog")
    assert flow_log["ResourceId"] == {"Ref": vpc_id}
    assert flow_log["TrafficType"] == "ALL"
    assert flow_log["LogDestinationType"] == "cloud-watch-logs"
    group_id = flow_log["LogGroupName"]["Ref"]
    groups = template.find_resources("AWS::Logs::LogGroup")
    assert groups[group_id]["Properties"]["RetentionInDays"] == 30


# --- cluster, task, container -------------------------------------------------------------------


def test_the_cluster_has_container_insights(aws_app: Synthesized) -> None:
    _, cluster = _one(_ingest(aws_app), "AWS::ECS::Cluster")
    assert {"Name": "containerInsights", "Value": "enabled"} in cluster["ClusterSettings"]


def test_the_task_is_2_vcpu_4_gib_x86_linux_on_fargate(aws_app: Synthesized) -> None:
    _, task = _one(_ingest(aws_app), "AWS::ECS::TaskDefinition")
    assert (task["Cpu"], task["Memory"]) == (str(TASK_CPU), str(TASK_MEMORY_MIB))
    assert (TASK_CPU, TASK_MEMORY_MIB) == (2048, 4096)
    assert task["RequiresCompatibilities"] == ["FARGATE"]
    assert task["NetworkMode"] == "awsvpc"
    assert task["RuntimePlatform"] == {"CpuArchitecture": "X86_64", "OperatingSystemFamily": "LINUX"}


def test_the_worker_stops_within_fargates_limit_and_drains_before_it(aws_app: Synthesized) -> None:
    container = _container(aws_app)
    assert container["StopTimeout"] == STOP_TIMEOUT_SECONDS == 120
    drain = float(_environment(aws_app)[ENV_INGEST_DRAIN_TIMEOUT_SECONDS])
    assert drain == DRAIN_TIMEOUT_SECONDS
    assert 0 < drain < STOP_TIMEOUT_SECONDS - 10  # time left to close and exit after the drain
    # The worker's own settings accept it (they cap the drain at Fargate's 120 s).
    assert IngestSettings(drain_timeout_seconds=drain).drain_timeout_seconds == drain


def test_the_task_environment_is_what_the_local_worker_gets(aws_app: Synthesized) -> None:
    """`worker_env` is the local worker's environment; the task gets the same names, for AWS."""
    deployment = Deployment(
        endpoint="http://127.0.0.1:4566",
        stage="local",
        outputs={
            OUTPUT_MEDIA_BUCKET: "media",
            OUTPUT_EVENT_BUS: "bus",
            OUTPUT_RESTREAM_KEY: "restream-key-arn",
            **{table_output(table): f"{table.value}-table" for table in Table},
        },
    )
    local = worker_env(deployment, health_port=8080, rtmp_port=1935, work_dir=Path("/tmp/ingest"))
    # What only a process beside the emulator needs: its interpreter, the emulator, a work dir,
    # and a name among its siblings (an ECS task's is its task ARN, in its metadata).
    local_only = {
        "PATH",
        "PYTHONPATH",
        ENV_AWS_ENDPOINT_URL,
        ENV_INGEST_WORK_DIR,
        ENV_INGEST_WORKER_ID,
        *EMULATOR_CREDENTIALS,
        ENV_RESTREAM_ALLOW_PRIVATE_HOSTS,  # the local tests' RTMP servers are on 127.0.0.1,
        ENV_INGEST_RESTREAM_VERIFY_TLS,  # with self-signed certificates
    }
    environment = _environment(aws_app)
    assert set(local) - local_only <= set(environment)
    assert ENV_ECS_AGENT_URI not in environment  # ECS sets it itself
    assert environment[ENV_STAGE] == "prod"
    assert environment[ENV_INGEST_HEALTH_HOST] == environment[ENV_INGEST_RTMP_HOST] == "0.0.0.0"
    assert (environment[ENV_INGEST_HEALTH_PORT], environment[ENV_INGEST_RTMP_PORT]) == (
        str(HEALTH_PORT),
        str(RTMP_PORT),
    )
    for name in set(local) - local_only:
        if name.endswith("_TABLE") or name in ("LETSLIVE_MEDIA_BUCKET", "LETSLIVE_EVENT_BUS", ENV_RESTREAM_KEY):
            assert "Fn::ImportValue" in environment[name], name  # the data stack's resources
    assert {name for name in environment if name.endswith("_TABLE")} == {
        f"LETSLIVE_{table.value.upper()}_TABLE" for table in INGEST_TABLES
    }


def test_the_container_listens_for_rtmp_and_health(aws_app: Synthesized) -> None:
    ports = {(m["ContainerPort"], m["Protocol"]) for m in _container(aws_app)["PortMappings"]}
    assert ports == {(RTMP_PORT, "tcp"), (HEALTH_PORT, "tcp")}


def test_logs_go_to_a_group_with_retention_without_blocking_the_worker(aws_app: Synthesized) -> None:
    template = _ingest(aws_app)
    logging = _container(aws_app)["LogConfiguration"]
    assert logging["LogDriver"] == "awslogs"
    options = logging["Options"]
    assert options["mode"] == "non-blocking"
    group_id = options["awslogs-group"]["Ref"]
    assert template.find_resources("AWS::Logs::LogGroup")[group_id]["Properties"]["RetentionInDays"] == 30


def test_the_image_is_built_at_deploy_time_from_only_what_it_copies(aws_app: Synthesized) -> None:
    image = _container(aws_app)["Image"]
    assert "container-assets" in json.dumps(image)  # an asset: nothing was built at synth
    manifest = json.loads((aws_app.outdir / f"{stack_name('prod', 'Ingest')}.assets.json").read_text())
    (asset,) = manifest["dockerImages"].values()
    source = asset["source"]
    assert source["dockerFile"] == "workers/ingest/Dockerfile"
    assert source["platform"] == "linux/amd64"
    staged = aws_app.outdir / source["directory"]
    assert sorted(p.name for p in staged.iterdir()) == ["README.md", "layers", "pyproject.toml", "workers"]
    assert (staged / "workers/ingest/Dockerfile").is_file()
    assert (staged / "layers/letslive/constants.py").is_file()
    files = [p.relative_to(staged).as_posix() for p in staged.rglob("*")]
    assert not [f for f in files if "__pycache__" in f or f.endswith(".pyc")]
    assert len(files) < 500  # no virtualenv, node_modules, web build or test data came along


# --- permissions --------------------------------------------------------------------------------


def _task_role_statements(app: Synthesized) -> list[dict[str, Any]]:
    template = _ingest(app)
    _, task = _one(template, "AWS::ECS::TaskDefinition")
    role_id = task["TaskRoleArn"]["Fn::GetAtt"][0]
    statements = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    assert not template.find_resources("AWS::IAM::Role")[role_id]["Properties"].get("ManagedPolicyArns")
    return statements


def _actions(statement: Mapping[str, Any]) -> set[str]:
    actions = statement["Action"]
    return {actions} if isinstance(actions, str) else set(actions)


def test_the_task_role_is_least_privilege(aws_app: Synthesized) -> None:
    statements = _task_role_statements(aws_app)
    assert all(statement["Effect"] == "Allow" for statement in statements)
    by_actions = {frozenset(_actions(statement)): statement for statement in statements}
    dynamodb = [s for s in statements if any(a.startswith("dynamodb:") for a in _actions(s))]
    # Read/write on the streams and VOD tables and their one index, nothing else.
    assert len(dynamodb) == len(INGEST_TABLES)
    tables_text = json.dumps([s["Resource"] for s in dynamodb])
    for table in Table:
        assert (f"Data{table.value.capitalize()}Table" in tables_text) == (table in INGEST_TABLES), table
    for statement in dynamodb:
        assert _actions(statement) == {*TABLE_READ_ACTIONS, *TABLE_WRITE_ACTIONS}
        assert json.dumps(statement["Resource"]).endswith('"/index/gsi1"]]}]')
    # Media: writes (and reads, to resume a broadcast) under the broadcasts' prefix, and
    # HeadBucket for the health check.
    put = by_actions[frozenset({"s3:GetObject", "s3:PutObject"})]
    assert json.dumps(put["Resource"]).endswith('"/hls/broadcasts/*"]]}')
    assert "Fn::ImportValue" in by_actions[frozenset({"s3:ListBucket"})]["Resource"]
    assert "Fn::ImportValue" in by_actions[frozenset({"events:PutEvents"})]["Resource"]
    # Restream: it opens destination keys, and only those (their encryption context).
    decrypt = by_actions[frozenset({"kms:Decrypt"})]
    assert "Fn::ImportValue" in json.dumps(decrypt["Resource"])
    assert decrypt["Condition"] == {"StringEquals": {"kms:EncryptionContext:purpose": RESTREAM_KEY_PURPOSE}}
    assert not [s for s in statements if _actions(s) & {"kms:Encrypt", "kms:GenerateDataKey*", "kms:*"}]
    protection = by_actions[frozenset({"ecs:GetTaskProtection", "ecs:UpdateTaskProtection"})]
    cluster_id, _ = _one(_ingest(aws_app), "AWS::ECS::Cluster")
    assert {"Ref": cluster_id} in protection["Resource"]["Fn::Join"][1]
    assert protection["Resource"]["Fn::Join"][1][-1] == "/*"
    # Nothing more: no deletes of media, nothing outside the prefix, no wildcard resource.
    assert len(statements) == len(INGEST_TABLES) + 5
    assert not [s for s in statements if s["Resource"] == "*"]


# --- service and load balancer ------------------------------------------------------------------


def test_the_service_runs_in_public_subnets_behind_the_target_group(aws_app: Synthesized) -> None:
    template = _ingest(aws_app)
    target_group_id, _ = _one(template, "AWS::ElasticLoadBalancingV2::TargetGroup")
    _, service = _one(template, "AWS::ECS::Service")
    assert service["LaunchType"] == "FARGATE"
    assert service["PlatformVersion"] == "LATEST"  # 1.4+: the agent endpoint for task protection
    network = service["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["AssignPublicIp"] == "ENABLED"
    assert len(network["Subnets"]) == 2
    assert service["LoadBalancers"] == [
        {"ContainerName": CONTAINER_NAME, "ContainerPort": RTMP_PORT, "TargetGroupArn": {"Ref": target_group_id}}
    ]
    deployment = service["DeploymentConfiguration"]
    assert deployment["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    assert deployment["MinimumHealthyPercent"] == 100
    assert service["AvailabilityZoneRebalancing"] == "DISABLED"


def test_the_load_balancer_forwards_rtmp_to_the_workers(aws_app: Synthesized) -> None:
    template = _ingest(aws_app)
    lb_id, lb = _one(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert (lb["Type"], lb["Scheme"]) == ("network", "internet-facing")
    assert {"Key": "load_balancing.cross_zone.enabled", "Value": "true"} in lb["LoadBalancerAttributes"]
    target_group_id, _ = _one(template, "AWS::ElasticLoadBalancingV2::TargetGroup")
    _, listener = _one(template, "AWS::ElasticLoadBalancingV2::Listener")
    listener.pop("Tags", None)
    assert listener == {
        "DefaultActions": [{"TargetGroupArn": {"Ref": target_group_id}, "Type": "forward"}],
        "LoadBalancerArn": {"Ref": lb_id},
        "Port": RTMP_PORT,
        "Protocol": "TCP",
    }


def test_targets_are_checked_on_the_workers_health_endpoint(aws_app: Synthesized) -> None:
    _, target_group = _one(_ingest(aws_app), "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert (target_group["Protocol"], target_group["Port"], target_group["TargetType"]) == ("TCP", RTMP_PORT, "ip")
    assert target_group["HealthCheckProtocol"] == "HTTP"
    assert target_group["HealthCheckPort"] == str(HEALTH_PORT)
    assert target_group["HealthCheckPath"] == HEALTH_PATH
    assert target_group["Matcher"] == {"HttpCode": "200"}  # a draining worker's 503 is unhealthy
    attributes = {a["Key"]: a["Value"] for a in target_group["TargetGroupAttributes"]}
    # The RTMP server limits connections per client address: it must see the streamer's.
    assert attributes["preserve_client_ip.enabled"] == "true"
    assert int(attributes["deregistration_delay.timeout_seconds"]) <= STOP_TIMEOUT_SECONDS


def test_tasks_accept_traffic_only_from_the_load_balancer(aws_app: Synthesized) -> None:
    template = _ingest(aws_app)
    _, service = _one(template, "AWS::ECS::Service")
    (task_sg,) = service["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"]
    _, lb = _one(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    (lb_sg,) = lb["SecurityGroups"]
    task_sg_id, lb_sg_id = task_sg["Fn::GetAtt"][0], lb_sg["Fn::GetAtt"][0]
    groups = template.find_resources("AWS::EC2::SecurityGroup")
    assert "SecurityGroupIngress" not in groups[task_sg_id]["Properties"]  # no inline (CIDR) rule
    ingress = template.find_resources("AWS::EC2::SecurityGroupIngress")
    to_tasks = [r["Properties"] for r in ingress.values() if r["Properties"]["GroupId"] == _ref(task_sg_id)]
    assert {(r["FromPort"], r["ToPort"]) for r in to_tasks} == {(RTMP_PORT, RTMP_PORT), (HEALTH_PORT, HEALTH_PORT)}
    assert all(r["SourceSecurityGroupId"] == _ref(lb_sg_id) and "CidrIp" not in r for r in to_tasks)
    # The load balancer: RTMP from anywhere (no RTMPS without a certificate), out only to the tasks.
    lb_group = groups[lb_sg_id]["Properties"]
    assert [(r["CidrIp"], r["FromPort"]) for r in lb_group["SecurityGroupIngress"]] == [("0.0.0.0/0", RTMP_PORT)]
    # No inline egress: EC2 drops a group's default allow-all egress once a rule of its own is
    # added, and the only ones are these (CDK removed its "match nothing" placeholder for them).
    assert "SecurityGroupEgress" not in lb_group
    egress = [r["Properties"] for r in template.find_resources("AWS::EC2::SecurityGroupEgress").values()]
    assert all(r["GroupId"] == _ref(lb_sg_id) and r["DestinationSecurityGroupId"] == _ref(task_sg_id) for r in egress)
    assert sorted(r["FromPort"] for r in egress) == [RTMP_PORT, HEALTH_PORT]


# --- autoscaling --------------------------------------------------------------------------------


def _scaling(app: Synthesized) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    template = _ingest(app)
    _, target = _one(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    policies = template.find_resources("AWS::ApplicationAutoScaling::ScalingPolicy")
    by_kind = {}
    for policy in policies.values():
        config = policy["Properties"]["TargetTrackingScalingPolicyConfiguration"]
        kind = "cpu" if "PredefinedMetricSpecification" in config else "broadcasts"
        by_kind[kind] = config
    return target, by_kind


def test_the_service_scales_on_cpu_and_broadcasts_per_task(aws_app: Synthesized) -> None:
    target, policies = _scaling(aws_app)
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 10)
    assert target["ScalableDimension"] == "ecs:service:DesiredCount"
    assert set(policies) == {"cpu", "broadcasts"}
    cpu = policies["cpu"]
    assert cpu["PredefinedMetricSpecification"] == {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}
    assert cpu["TargetValue"] == CPU_TARGET_PERCENT == 60
    broadcasts = policies["broadcasts"]
    assert broadcasts["TargetValue"] == 2
    # Exactly the metric the worker writes (`workers/ingest/metrics.py`), averaged over the tasks.
    assert broadcasts["CustomizedMetricSpecification"] == {
        "Namespace": POWERTOOLS_NAMESPACE,
        "MetricName": IngestMetric.ACTIVE_BROADCASTS.value,
        "Dimensions": [{"Name": "service", "Value": INGEST_METRIC_SERVICE}, {"Name": "stage", "Value": "prod"}],
        "Statistic": "Average",
    }


def test_scaling_limits_come_from_context(tls_app: Synthesized) -> None:
    target, policies = _scaling(tls_app)
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 4)
    assert policies["broadcasts"]["TargetValue"] == 3
    dimensions = policies["broadcasts"]["CustomizedMetricSpecification"]["Dimensions"]
    assert {"Name": "stage", "Value": TLS_STAGE} in dimensions


# --- RTMPS and the ingest URL -------------------------------------------------------------------


def test_without_a_certificate_streamers_get_plain_rtmp(aws_app: Synthesized) -> None:
    template = _ingest(aws_app)
    lb_id, _ = _one(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    outputs = template.find_outputs("*")
    assert outputs[OUTPUT_INGEST_RTMP_URL]["Value"] == {
        "Fn::Join": ["", ["rtmp://", {"Fn::GetAtt": [lb_id, "DNSName"]}, "/live"]]
    }
    assert outputs[OUTPUT_INGEST_LOAD_BALANCER]["Value"] == {"Fn::GetAtt": [lb_id, "DNSName"]}
    assert OUTPUT_INGEST_RTMPS_URL not in outputs
    stack = aws_app.stack("Ingest")
    assert isinstance(stack, IngestStack)
    assert stack.ingest_url == stack.ingest.rtmp_url


def test_the_api_tells_streamers_the_load_balancers_url(aws_app: Synthesized) -> None:
    functions = aws_app.template("Api").find_resources("AWS::Lambda::Function")
    told = {}
    for fn in functions.values():
        variables = fn["Properties"].get("Environment", {}).get("Variables", {})
        if ENV_INGEST_URL in variables:
            told[fn["Properties"]["Handler"]] = variables[ENV_INGEST_URL]
    assert set(told) == {f"functions.{s.value}.handler.handler" for s in (Service.STREAMS, Service.VODS)}
    for value in told.values():
        (parts,) = value["Fn::Join"][1:]
        assert parts[0] == "rtmp://"
        assert "Ingest" in parts[1]["Fn::ImportValue"]  # the ingest stack's load balancer
        assert parts[2] == "/live"


def test_with_a_certificate_a_tls_listener_ends_rtmps_on_443(tls_app: Synthesized) -> None:
    template = _ingest(tls_app)
    target_group_id, _ = _one(template, "AWS::ElasticLoadBalancingV2::TargetGroup")
    _, tls = _one(template, "AWS::ElasticLoadBalancingV2::Listener", {"Protocol": "TLS"})
    assert tls["Port"] == RTMPS_PORT
    assert tls["Certificates"] == [{"CertificateArn": INGEST_CERTIFICATE}]
    assert tls["SslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    # TLS ends at the load balancer; the same workers get plain RTMP on 1935.
    assert tls["DefaultActions"] == [{"TargetGroupArn": {"Ref": target_group_id}, "Type": "forward"}]
    _one(template, "AWS::ElasticLoadBalancingV2::Listener", {"Protocol": "TCP", "Port": RTMP_PORT})
    _, lb = _one(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    lb_sg_id = lb["SecurityGroups"][0]["Fn::GetAtt"][0]
    ingress = template.find_resources("AWS::EC2::SecurityGroup")[lb_sg_id]["Properties"]["SecurityGroupIngress"]
    assert sorted(r["FromPort"] for r in ingress) == [RTMPS_PORT, RTMP_PORT]


def test_with_a_certificate_the_rtmps_url_is_on_the_ingest_domain(tls_app: Synthesized) -> None:
    outputs = _ingest(tls_app).find_outputs("*")
    assert outputs[OUTPUT_INGEST_RTMPS_URL]["Value"] == f"rtmps://{INGEST_DOMAIN}:{RTMPS_PORT}/live"
    assert OUTPUT_INGEST_RTMP_URL in outputs
    stack = tls_app.stack("Ingest")
    assert isinstance(stack, IngestStack)
    assert stack.ingest_url == f"rtmps://{INGEST_DOMAIN}:{RTMPS_PORT}/live"  # encrypted keys when we can


def test_an_ingest_url_given_by_context_wins(tls_app: Synthesized) -> None:
    functions = tls_app.template("Api").find_resources("AWS::Lambda::Function")
    values = [
        fn["Properties"]["Environment"]["Variables"][ENV_INGEST_URL]
        for fn in functions.values()
        if ENV_INGEST_URL in fn["Properties"].get("Environment", {}).get("Variables", {})
    ]
    assert values == [CONTEXT_INGEST_URL, CONTEXT_INGEST_URL]


def test_the_disk_budget_fits_the_tasks_ephemeral_storage(aws_app: Synthesized) -> None:
    """Segments waiting for S3 must not fill the task's disk (the image and FFmpeg need room)."""
    [task] = _ingest(aws_app).find_resources("AWS::ECS::TaskDefinition").values()
    storage_gib = task["Properties"]["EphemeralStorage"]["SizeInGiB"]
    budget_mb = int(_environment(aws_app)[ENV_INGEST_DISK_BUDGET_MB])
    assert budget_mb * 1024 * 1024 <= 0.85 * storage_gib * 1024**3
