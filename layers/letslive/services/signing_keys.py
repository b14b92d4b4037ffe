"""The JWT signing key's lifecycle: created once at deploy time, kept across updates, read once
per process by the auth service."""

from functools import lru_cache
from typing import Protocol

from letslive.errors import ConfigurationError
from letslive.services.tokens import SigningKey, generate_signing_key


class SecretStore(Protocol):
    def read(self, secret_id: str) -> str | None: ...

    def write(self, secret_id: str, value: str) -> None: ...


def ensure_signing_key(secret_id: str, store: SecretStore | None = None) -> SigningKey:
    """The key held in `secret_id`; a new one is generated and stored when it holds none.

    CDK creates the secret with a random placeholder, so "not a signing key" means "first
    deploy". A valid key is never replaced here: rotating it would sign out every user.
    """
    if store is None:
        from letslive.data.secrets import SecretsManagerStore

        store = SecretsManagerStore()
    current = store.read(secret_id)
    if current is not None:
        try:
            return SigningKey.from_json(current)
        except ConfigurationError:
            pass
    key = generate_signing_key()
    store.write(secret_id, key.to_json())
    return key


@lru_cache(maxsize=4)
def load_signing_key(secret_id: str) -> SigningKey:
    """The current signing key; read once per process (a Lambda container)."""
    from letslive.data.secrets import read_secret

    return SigningKey.from_json(read_secret(secret_id, "signing key"))
