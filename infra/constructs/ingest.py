"""The ingest tier in AWS: the worker image on ECS Fargate behind a Network Load Balancer.

Network: one VPC over two AZs with public subnets only. Tasks get a public IP for their way out
(ECR, S3, DynamoDB, EventBridge, CloudWatch) instead of sitting in private subnets behind NAT
gateways: a NAT gateway per AZ costs more than the tasks themselves at low scale and bills every
uploaded segment per GB, while nothing reaches a task from outside but the load balancer (its
security group is the only source its own admits). Gateway endpoints (free) keep S3 and
DynamoDB traffic on the AWS network. Flow logs record every connection.

Streamers connect to the load balancer on 1935 (RTMP) and, with a certificate, 443 (RTMPS, TLS
ended at the load balancer); both reach the tasks' 1935 with the client's own address (the RTMP
server limits connections per address). The target group checks the worker's `/health` on 8080,
which answers 503 while the worker drains. The service scales on CPU and on live broadcasts per
task (the worker's `ActiveBroadcasts` metric); tasks with a live broadcast protect themselves
from scale-in (`workers/ingest/protection.py`).
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Final, cast

from aws_cdk import Aws, CfnElement, Duration, IgnoreMode, RemovalPolicy, Size, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import InfraConfig
from infra.constructs.data import grant_restream_key, media_bucket_arn_export
from infra.constructs.functions import TABLE_READ_ACTIONS, TABLE_WRITE_ACTIONS
from infra.nag import acknowledge
from letslive.constants import (
    ENV_EVENT_BUS,
    ENV_INGEST_DISK_BUDGET_MB,
    ENV_INGEST_DRAIN_TIMEOUT_SECONDS,
    ENV_INGEST_HEALTH_HOST,
    ENV_INGEST_HEALTH_PORT,
    ENV_INGEST_RTMP_HOST,
    ENV_INGEST_RTMP_PORT,
    ENV_MEDIA_BUCKET,
    ENV_RESTREAM_KEY,
    ENV_STAGE,
    ENV_VOD_RETENTION_DAYS,
    INGEST_METRIC_SERVICE,
    MEDIA_PREFIX,
    POWERTOOLS_NAMESPACE,
    TABLE_GSI,
    IngestMetric,
    Table,
    table_env_var,
)
from letslive.models.streams import BROADCASTS_MEDIA_DIR
from workers.ingest.health import HEALTH_PATH

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
DOCKERFILE: Final = "workers/ingest/Dockerfile"
# BuildKit's ignore file for that Dockerfile: an allow-list of what the image copies.
DOCKERIGNORE: Final = REPO_ROOT / "workers/ingest/Dockerfile.dockerignore"
CONTAINER_NAME: Final = "Worker"

# The worker's tables: stream keys and live state, and the VOD records it writes at the end.
INGEST_TABLES: Final = (Table.STREAMS, Table.VODS)
RTMP_PORT: Final = 1935
RTMPS_PORT: Final = 443
HEALTH_PORT: Final = 8080
# 2 vCPU sustain two 1080p30 ladders (source copied, 720p/360p x264 veryfast) above real time.
TASK_CPU: Final = 2048
TASK_MEMORY_MIB: Final = 4096
# Fargate's ceiling: SIGKILL comes this long after SIGTERM. The worker's drain (publishers told
# to go, their broadcasts finalized as VODs) must end before it, with time left to exit.
STOP_TIMEOUT_SECONDS: Final = 120
DRAIN_TIMEOUT_SECONDS: Final = 100
# Segments wait on the task's disk while S3 is unreachable: the disk budget leaves room for the
# image and FFmpeg's working files (a 6 Mbit/s ladder spools about 3 GiB an hour).
EPHEMERAL_STORAGE_GIB: Final = 40
DISK_BUDGET_MB: Final = 32 * 1024
CPU_TARGET_PERCENT: Final = 60
# Streamers keep their connection while a task deregisters; past this the worker is stopped
# (and drains). Short, so a deployment is not held up by idle tasks.
DEREGISTRATION_DELAY_SECONDS: Final = 30
LOG_RETENTION: Final = logs.RetentionDays.ONE_MONTH


def image_excludes() -> list[str]:
    """The asset's exclude patterns: exactly the Dockerfile's own ignore file, so that synth
    stages (and hashes) only what the image copies, never `.venv`, `node_modules`, `web`, `.local`."""
    lines = (line.strip() for line in DOCKERIGNORE.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def rtmp_url(host: str) -> str:
    return f"rtmp://{host}/live"


def rtmps_url(host: str) -> str:
    return f"rtmps://{host}:{RTMPS_PORT}/live"


class IngestConstruct(Construct):
    """VPC, cluster, Fargate service, Network Load Balancer and autoscaling of the ingest worker."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        tables: Mapping[Table, dynamodb.ITable],
        media_bucket: s3.IBucket,
        bus: events.IEventBus,
        restream_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self.vpc = self._network()
        self.cluster = ecs.Cluster(self, "Cluster", vpc=self.vpc, container_insights_v2=ecs.ContainerInsights.ENABLED)
        self.task_definition = self._task_definition(config)
        self._grant(tables, media_bucket, bus)
        # Restream: the worker opens the destinations' keys to forward to them.
        grant_restream_key(restream_key, self.task_definition.task_role, "kms:Decrypt")
        container = self.task_definition.default_container
        assert container is not None
        container.add_environment(ENV_RESTREAM_KEY, restream_key.key_arn)

        self.task_security_group = ec2.SecurityGroup(
            self, "TaskSecurityGroup", vpc=self.vpc, description="Ingest tasks: RTMP and health from the load balancer"
        )
        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=self.cluster,
            task_definition=self.task_definition,
            # Public subnets and a public IP for the way out; see the module docstring.
            assign_public_ip=True,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            security_groups=[self.task_security_group],
            platform_version=ecs.FargatePlatformVersion.LATEST,  # 1.4+: ECS_AGENT_URI for task protection
            min_healthy_percent=100,
            max_healthy_percent=200,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            health_check_grace_period=Duration.seconds(60),
            # Moving a task to rebalance zones would cut its broadcasts.
            availability_zone_rebalancing=ecs.AvailabilityZoneRebalancing.DISABLED,
            propagate_tags=ecs.PropagatedTagSource.SERVICE,
        )
        self._load_balancer(config)
        self._autoscaling(config)

    # --- network ---------------------------------------------------------------------------------
    def _network(self) -> ec2.Vpc:
        vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24)
            ],
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3),
                "DynamoDb": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.DYNAMODB),
            },
        )
        flow_logs = logs.LogGroup(self, "FlowLogs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY)
        vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
            traffic_type=ec2.FlowLogTrafficType.ALL,
            max_aggregation_interval=ec2.FlowLogMaxAggregationInterval.TEN_MINUTES,
        )
        return vpc

    # --- the task ------------------------------------------------------------------------------
    def _task_definition(self, config: InfraConfig) -> ecs.FargateTaskDefinition:
        task = ecs.FargateTaskDefinition(
            self,
            "Task",
            cpu=TASK_CPU,
            memory_limit_mib=TASK_MEMORY_MIB,
            ephemeral_storage_gib=EPHEMERAL_STORAGE_GIB,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.X86_64, operating_system_family=ecs.OperatingSystemFamily.LINUX
            ),
        )
        self.log_group = logs.LogGroup(self, "Logs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY)
        task.add_container(
            CONTAINER_NAME,
            # Built and pushed by `cdk deploy` (Docker needed then); synth only stages the context.
            image=ecs.ContainerImage.from_asset(
                str(REPO_ROOT),
                file=DOCKERFILE,
                exclude=image_excludes(),
                ignore_mode=IgnoreMode.DOCKER,
                platform=ecr_assets.Platform.LINUX_AMD64,  # the task's architecture, whoever deploys
            ),
            environment=self._environment(config),
            port_mappings=[
                ecs.PortMapping(name="rtmp", container_port=RTMP_PORT, protocol=ecs.Protocol.TCP),
                ecs.PortMapping(name="health", container_port=HEALTH_PORT, protocol=ecs.Protocol.TCP),
            ],
            stop_timeout=Duration.seconds(STOP_TIMEOUT_SECONDS),
            logging=ecs.LogDrivers.aws_logs(
                stream_prefix="ingest",
                log_group=self.log_group,
                # A CloudWatch Logs hiccup must not block stdout, and with it the event loop.
                mode=ecs.AwsLogDriverMode.NON_BLOCKING,
                max_buffer_size=Size.mebibytes(25),
            ),
        )
        return task

    def _environment(self, config: InfraConfig) -> dict[str, str]:
        """What `localstack/platform.py`'s `worker_env` gives the local worker, for AWS: tables, bucket
        and bus are set below (`_grant`); listening on every interface for the load balancer."""
        return {
            ENV_STAGE: config.stage,
            ENV_VOD_RETENTION_DAYS: str(config.vod_retention_days),
            ENV_INGEST_HEALTH_HOST: "0.0.0.0",
            ENV_INGEST_HEALTH_PORT: str(HEALTH_PORT),
            ENV_INGEST_RTMP_HOST: "0.0.0.0",
            ENV_INGEST_RTMP_PORT: str(RTMP_PORT),
            ENV_INGEST_DRAIN_TIMEOUT_SECONDS: str(DRAIN_TIMEOUT_SECONDS),
            ENV_INGEST_DISK_BUDGET_MB: str(DISK_BUDGET_MB),
        }

    def _grant(self, tables: Mapping[Table, dynamodb.ITable], media_bucket: s3.IBucket, bus: events.IEventBus) -> None:
        """Least privilege for the task role: what the streams and VOD services do for the worker,
        objects under the broadcasts' prefix, events on the bus, and its own scale-in protection."""
        task = self.task_definition
        container = task.default_container
        assert container is not None
        role = task.task_role
        stack = Stack.of(self)
        for table in INGEST_TABLES:
            arn = tables[table].table_arn
            iam.Grant.add_to_principal(
                grantee=role,
                actions=[*TABLE_READ_ACTIONS, *TABLE_WRITE_ACTIONS],
                resource_arns=[arn, f"{arn}/index/{TABLE_GSI}"],
            )
            container.add_environment(table_env_var(table), tables[table].table_name)
        # Writes segments, playlists and thumbnails (the lifecycle rule expires them), and reads a
        # broadcast's recording to resume it after another task carried it. The bucket's ARN
        # comes through a named export so that the finding below has a stable name.
        bucket_arn, bucket_export = media_bucket_arn_export(self, media_bucket)
        objects = f"{MEDIA_PREFIX}/{BROADCASTS_MEDIA_DIR}/*"
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["s3:GetObject", "s3:PutObject"], resources=[f"{bucket_arn}/{objects}"])
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::{bucket_export}/{objects}]",
            "Every broadcast writes its own segments, playlists and thumbnail under the broadcasts prefix, "
            "with keys made at run time, and a task resuming a broadcast reads its playlists there; the "
            "role may read or write nothing else and delete nothing.",
        )
        # The health check's HeadBucket needs ListBucket on the bucket itself.
        role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket_arn]))
        container.add_environment(ENV_MEDIA_BUCKET, media_bucket.bucket_name)
        bus.grant_put_events_to(role)
        container.add_environment(ENV_EVENT_BUS, bus.event_bus_name)
        # The ECS agent's task protection endpoint calls ECS with the task role.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:GetTaskProtection", "ecs:UpdateTaskProtection"],
                # Pseudo parameters, not the stack's region: the finding below names them either way.
                resources=[f"arn:{Aws.PARTITION}:ecs:{Aws.REGION}:{Aws.ACCOUNT_ID}:task/{self.cluster.cluster_name}/*"],
            )
        )
        cluster_id = stack.get_logical_id(cast(CfnElement, self.cluster.node.default_child))
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:task/"
            f"<{cluster_id}>/*]",
            "A task protects itself from scale-in through the ECS agent, which calls ECS with this role; "
            "task ids are made at run time, so it is granted on this cluster's tasks and nothing wider.",
        )
        # Environment values are names (tables, bucket, bus), ports and the stage: no secret. The
        # worker has none; AWS credentials come from the task role.
        acknowledge(
            task,
            "AwsSolutions-ECS2",
            "The worker's environment holds resource names, ports and the stage, no secret; its AWS "
            "credentials come from the task role.",
        )
        execution_role = task.execution_role
        assert execution_role is not None
        acknowledge(
            execution_role,
            "AwsSolutions-IAM5[Resource::*]",
            "CDK's execution role pulls the image from the asset repository: ecr:GetAuthorizationToken "
            "exists only on all resources; the pull itself and the logs are granted on their own ARNs.",
        )

    # --- load balancer -------------------------------------------------------------------------
    def _load_balancer(self, config: InfraConfig) -> None:
        self.load_balancer_security_group = ec2.SecurityGroup(
            self,
            "LoadBalancerSecurityGroup",
            vpc=self.vpc,
            description="Ingest load balancer: RTMP(S) from streamers anywhere",
            allow_all_outbound=False,
        )
        tls = config.ingest_certificate_arn is not None
        listen_ports = (RTMP_PORT, RTMPS_PORT) if tls else (RTMP_PORT,)
        for port in listen_ports:
            self.load_balancer_security_group.add_ingress_rule(
                ec2.Peer.any_ipv4(), ec2.Port.tcp(port), f"streamers (port {port})"
            )
        # Ingress to the tasks only from the load balancer's security group: with client IPs
        # preserved the packets carry the streamer's address, yet the rule still matches.
        for port, what in ((RTMP_PORT, "RTMP"), (HEALTH_PORT, "health checks")):
            self.task_security_group.connections.allow_from(
                self.load_balancer_security_group, ec2.Port.tcp(port), f"{what} from the load balancer"
            )
        self.load_balancer = elbv2.NetworkLoadBalancer(
            self,
            "LoadBalancer",
            vpc=self.vpc,
            internet_facing=True,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            security_groups=[self.load_balancer_security_group],
            # With a task or two, a zone without one must still send streamers somewhere.
            cross_zone_enabled=True,
        )
        self.target_group = elbv2.NetworkTargetGroup(
            self,
            "Workers",
            vpc=self.vpc,
            port=RTMP_PORT,
            protocol=elbv2.Protocol.TCP,
            target_type=elbv2.TargetType.IP,
            targets=[self.service.load_balancer_target(container_name=CONTAINER_NAME, container_port=RTMP_PORT)],
            # The worker limits connections per client address; it must see the streamer's.
            preserve_client_ip=True,
            deregistration_delay=Duration.seconds(DEREGISTRATION_DELAY_SECONDS),
            health_check=elbv2.HealthCheck(
                protocol=elbv2.Protocol.HTTP,
                port=str(HEALTH_PORT),
                path=HEALTH_PATH,
                healthy_http_codes="200",  # 503 while draining takes the task out of rotation
                interval=Duration.seconds(10),
                timeout=Duration.seconds(5),
                healthy_threshold_count=2,
                unhealthy_threshold_count=2,
            ),
        )
        self.load_balancer.add_listener(
            "Rtmp", port=RTMP_PORT, protocol=elbv2.Protocol.TCP, default_target_groups=[self.target_group]
        )
        dns_name = self.load_balancer.load_balancer_dns_name
        self.rtmp_url = rtmp_url(dns_name)
        self.rtmps_url: str | None = None
        if config.ingest_certificate_arn is not None and config.ingest_domain_name is not None:
            certificate = acm.Certificate.from_certificate_arn(self, "Certificate", config.ingest_certificate_arn)
            self.load_balancer.add_listener(
                "Rtmps",
                port=RTMPS_PORT,
                protocol=elbv2.Protocol.TLS,
                certificates=[elbv2.ListenerCertificate.from_certificate_manager(certificate)],
                ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
                default_target_groups=[self.target_group],
            )
            self.rtmps_url = rtmps_url(config.ingest_domain_name)
        acknowledge(
            self.load_balancer,
            "AwsSolutions-ELB2",
            "Network Load Balancer access logs only cover TLS listeners; every connection is in the VPC "
            "flow logs and every publish in the worker's logs.",
        )
        acknowledge(
            self.load_balancer_security_group,
            "AwsSolutions-EC23",
            "Streamers publish from anywhere on the internet; this is the public RTMP(S) ingest port.",
        )

    # --- autoscaling ---------------------------------------------------------------------------
    def _autoscaling(self, config: InfraConfig) -> None:
        scaling = self.service.auto_scale_task_count(min_capacity=1, max_capacity=config.ingest_max_tasks)
        scaling.scale_on_cpu_utilization(
            "Cpu",
            target_utilization_percent=CPU_TARGET_PERCENT,
            scale_out_cooldown=Duration.seconds(60),
            scale_in_cooldown=Duration.minutes(5),
        )
        # Every task reports its live broadcasts every heartbeat; their average is per task.
        self.active_broadcasts = cloudwatch.Metric(
            namespace=POWERTOOLS_NAMESPACE,
            metric_name=IngestMetric.ACTIVE_BROADCASTS.value,
            dimensions_map={"service": INGEST_METRIC_SERVICE, "stage": config.stage},
            statistic=cloudwatch.Stats.AVERAGE,
            period=Duration.minutes(1),
        )
        scaling.scale_to_track_custom_metric(
            "Broadcasts",
            metric=self.active_broadcasts,
            target_value=config.ingest_broadcasts_per_task,
            scale_out_cooldown=Duration.seconds(60),
            scale_in_cooldown=Duration.minutes(5),
        )
