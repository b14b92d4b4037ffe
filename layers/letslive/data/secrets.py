"""Secrets Manager: the JWT signing key and the CloudFront origin-verify value (only the auth
function may read them)."""

from functools import lru_cache

from letslive.data.aws import client
from letslive.errors import DependencyUnavailable
from letslive.services.tokens import SigningKey


@lru_cache(maxsize=4)
def load_signing_key(secret_id: str) -> SigningKey:
    """The current signing key; read once per process (a Lambda container)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        value = client("secretsmanager").get_secret_value(SecretId=secret_id)
    except (BotoCoreError, ClientError) as exc:
        raise DependencyUnavailable(f"could not read the signing key: {exc}") from exc
    return SigningKey.from_json(value["SecretString"])


@lru_cache(maxsize=4)
def load_origin_verify_secret(secret_id: str) -> str:
    """The value CloudFront sends in `ORIGIN_VERIFY_HEADER`; read once per process.

    The secret is never rotated (CloudFormation copies it into the distribution only at deploy
    time), so one read per Lambda container is enough.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        value = client("secretsmanager").get_secret_value(SecretId=secret_id)
    except (BotoCoreError, ClientError) as exc:
        raise DependencyUnavailable(f"could not read the origin-verify secret: {exc}") from exc
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
