"""cdk-nag (v3): the AwsSolutions rule pack, and how a finding we accept is acknowledged.

cdk-nag 3 is a CDK policy-validation plugin, not an aspect: registered on the app, it checks the
construct tree after synthesis and fails the synth on any finding (error or warning) that is not
acknowledged. An acknowledgment (`Validations.of(construct).acknowledge`) covers the construct
and everything under it, so it is made on the narrowest construct, and for a granular rule
(IAM4, IAM5) on the exact finding, e.g. `AwsSolutions-IAM5[Resource::*]`.
"""

from aws_cdk import Acknowledgment, App, Aspects, Stack, Token, Validations
from cdk_nag import AwsSolutionsChecks, WriteNagSuppressionsToCloudFormationAspect
from constructs import IConstruct

# How the rule pack renders an AWS managed policy in an IAM4 finding.
AWS_MANAGED_POLICY = "arn:<AWS::Partition>:iam::aws:policy/"
# Why the local shape (`local=true`) takes plain HTTP (AwsSolutions-S10, -SQS4).
LOCAL_PLAIN_HTTP = (
    "The local shape runs on an emulator that serves plain HTTP on 127.0.0.1 only; the AWS shape refuses plain HTTP."
)


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Accept the finding `rule` on `scope` and below, for `reason` (a sentence, kept in the
    template's metadata)."""
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))


def managed_policy_rule(policy: str) -> str:
    """The IAM4 finding of an AWS managed policy, e.g. `service-role/AWSLambdaBasicExecutionRole`."""
    return f"AwsSolutions-IAM4[Policy::{AWS_MANAGED_POLICY}{policy}]"


def rendered_environment(scope: IConstruct) -> tuple[str, str, str]:
    """(partition, region, account) of `scope`'s stack as the rule pack renders them in a finding:
    a pseudo parameter that is still a token (an environment-agnostic stack, as in the tests) as
    `<AWS::Region>` etc., a known one (the CLI always knows the region) as its value."""
    stack = Stack.of(scope)

    def shown(value: str, pseudo: str) -> str:
        return f"<AWS::{pseudo}>" if Token.is_unresolved(value) else value

    return shown(stack.partition, "Partition"), shown(stack.region, "Region"), shown(stack.account, "AccountId")


def rendered_arn(scope: IConstruct, service: str, resource: str) -> str:
    """An ARN of `scope`'s stack as the rule pack renders it in a finding (`rendered_environment`)."""
    partition, region, account = rendered_environment(scope)
    return f"arn:{partition}:{service}:{region}:{account}:{resource}"


def add_audit_trail(app: App) -> None:
    """Every acknowledgment goes into its resources' template metadata (`cdk_nag.rules_to_suppress`),
    so a deployed template says which findings were accepted and why."""
    Aspects.of(app).add(WriteNagSuppressionsToCloudFormationAspect())


def checks() -> AwsSolutionsChecks:
    """The rule pack, with each finding's explanation (the metadata is written by `add_audit_trail`)."""
    return AwsSolutionsChecks(verbose=True)


def enforce(app: App) -> None:
    """Fail the synth (and so `cdk deploy`) on any unacknowledged finding."""
    Validations.of(app).add_plugins(checks())
