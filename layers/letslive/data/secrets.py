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
