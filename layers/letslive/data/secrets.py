"""The JWT signing key in Secrets Manager (only the auth function may read it)."""

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
