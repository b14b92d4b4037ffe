"""Secrets Manager: the JWT signing key and the CloudFront origin-verify value (only the auth
function may read them)."""

from letslive.data.aws import client
from letslive.errors import DependencyUnavailable


def read_secret(secret_id: str, what: str) -> str:
    """The secret's current string; `what` names it in the error when it cannot be read."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        value = client("secretsmanager").get_secret_value(SecretId=secret_id)
    except (BotoCoreError, ClientError) as exc:
        raise DependencyUnavailable(f"could not read the {what}: {exc}") from exc
    secret: str = value["SecretString"]
    return secret


class SecretsManagerStore:
    """`letslive.services.signing_keys.SecretStore` on Secrets Manager."""

    def read(self, secret_id: str) -> str | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            value = client("secretsmanager").get_secret_value(SecretId=secret_id)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return None
            raise DependencyUnavailable(f"could not read secret: {exc}") from exc
        except BotoCoreError as exc:
            raise DependencyUnavailable(f"could not read secret: {exc}") from exc
        secret: str | None = value.get("SecretString")
        return secret

    def write(self, secret_id: str, value: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            client("secretsmanager").put_secret_value(SecretId=secret_id, SecretString=value)
        except (BotoCoreError, ClientError) as exc:
            raise DependencyUnavailable(f"could not write secret: {exc}") from exc
