"""Access tokens: ES256 JWTs issued by the auth service and verified by every service.

The verifier pins the algorithm (ES256 only: `alg=none` and HS256-with-the-public-key forgeries
are refused by construction), the issuer, the audience and the key id, and requires every claim.
"""

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from letslive.errors import ConfigurationError, Unauthorized

ALGORITHM = "ES256"
REQUIRED_CLAIMS = ("sub", "username", "iss", "aud", "iat", "exp", "jti")


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key_pem: str

    def public_jwk(self) -> dict[str, Any]:
        private = serialization.load_pem_private_key(self.private_key_pem.encode(), password=None)
        assert isinstance(private, ec.EllipticCurvePrivateKey)
        jwk: dict[str, Any] = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
        return {**jwk, "kid": self.kid, "alg": ALGORITHM, "use": "sig"}

    def to_json(self) -> str:
        return json.dumps({"kid": self.kid, "private_key_pem": self.private_key_pem})

    @classmethod
    def from_json(cls, raw: str) -> "SigningKey":
        try:
            data = json.loads(raw)
            return cls(kid=str(data["kid"]), private_key_pem=str(data["private_key_pem"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError("the signing key secret is not a signing key") from exc


def generate_signing_key() -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return SigningKey(kid=uuid.uuid4().hex, private_key_pem=pem)


def jwks_document(*keys: SigningKey) -> dict[str, list[dict[str, Any]]]:
    return {"keys": [key.public_jwk() for key in keys]}


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    username: str
    token_id: str
    issued_at: int
    expires_at: int


class AccessTokenIssuer:
    def __init__(
        self,
        key: SigningKey,
        issuer: str,
        audience: str,
        ttl_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self._issuer = issuer
        self._audience = audience
        self.ttl_seconds = ttl_seconds
        self._clock = clock

    def issue(self, user_id: str, username: str) -> str:
        now = int(self._clock())
        claims = {
            "sub": user_id,
            "username": username,
            "iss": self._issuer,
            "aud": self._audience,
            "iat": now,
            "exp": now + self.ttl_seconds,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._key.private_key_pem, algorithm=ALGORITHM, headers={"kid": self._key.kid})


class AccessTokenVerifier:
    """Verifies access tokens against a JWKS document (the auth service's public keys)."""

    def __init__(
        self,
        jwks: dict[str, Any],
        issuer: str,
        audience: str,
        leeway_seconds: int = 30,
    ) -> None:
        try:
            self._keys = {jwk["kid"]: jwt.PyJWK(jwk, algorithm=ALGORITHM) for jwk in jwks["keys"]}
        except (KeyError, TypeError, jwt.PyJWTError) as exc:
            raise ConfigurationError("the JWKS document is not valid") from exc
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_seconds

    def verify(self, token: str) -> AccessClaims:
        try:
            header = jwt.get_unverified_header(token)
            key = self._keys.get(header.get("kid", ""))
            if key is None or header.get("alg") != ALGORITHM:
                raise Unauthorized("the access token is not valid")
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("the access token has expired") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("the access token is not valid") from exc
        if not isinstance(claims.get("username"), str) or not isinstance(claims.get("sub"), str):
            raise Unauthorized("the access token is not valid")
        return AccessClaims(
            user_id=claims["sub"],
            username=claims["username"],
            token_id=str(claims["jti"]),
            issued_at=int(claims["iat"]),
            expires_at=int(claims["exp"]),
        )


def verifier_from_settings() -> AccessTokenVerifier:
    """The shared verifier, from `LETSLIVE_JWKS` and the issuer/audience settings."""
    from letslive.settings import get_settings

    settings = get_settings()
    try:
        jwks = json.loads(settings.required("jwks"))
    except ValueError as exc:
        raise ConfigurationError("LETSLIVE_JWKS is not JSON") from exc
    return AccessTokenVerifier(jwks, settings.jwt_issuer, settings.jwt_audience)
