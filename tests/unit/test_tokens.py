"""Access tokens: what the issuer signs, the verifier accepts, and every forgery it refuses."""

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from letslive.errors import ConfigurationError, Unauthorized
from letslive.services.tokens import (
    REQUIRED_CLAIMS,
    AccessTokenIssuer,
    AccessTokenVerifier,
    SigningKey,
    generate_signing_key,
    jwks_document,
)

ISSUER = "letslive"
AUDIENCE = "letslive-api"
TTL = 900


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return generate_signing_key()


@pytest.fixture(scope="module")
def verifier(key: SigningKey) -> AccessTokenVerifier:
    return AccessTokenVerifier(jwks_document(key), ISSUER, AUDIENCE)


def issue(key: SigningKey, now: float | None = None, issuer: str = ISSUER, audience: str = AUDIENCE) -> str:
    at = time.time() if now is None else now
    return AccessTokenIssuer(key, issuer, audience, TTL, clock=lambda: at).issue("user-1", "alice")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value).encode())


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    values: dict[str, Any] = {
        "sub": "user-1", "username": "alice", "iss": ISSUER, "aud": AUDIENCE,
        "iat": now, "exp": now + TTL, "jti": "j1",
    }  # fmt: skip
    return {**values, **overrides}


def signed(key: SigningKey, payload: dict[str, Any]) -> str:
    return jwt.encode(payload, key.private_key_pem, algorithm="ES256", headers={"kid": key.kid})


def public_pem(key: SigningKey) -> bytes:
    private = serialization.load_pem_private_key(key.private_key_pem.encode(), password=None)
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_round_trip(key: SigningKey, verifier: AccessTokenVerifier) -> None:
    now = int(time.time())
    token = issue(key, now)

    verified = verifier.verify(token)

    assert verified.user_id == "user-1"
    assert verified.username == "alice"
    assert verified.issued_at == now
    assert verified.expires_at == now + TTL
    assert verified.token_id
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": key.kid, "typ": "JWT"}


def test_every_token_has_its_own_id(key: SigningKey, verifier: AccessTokenVerifier) -> None:
    now = time.time()
    assert verifier.verify(issue(key, now)).token_id != verifier.verify(issue(key, now)).token_id


def test_an_expired_token_is_refused(key: SigningKey, verifier: AccessTokenVerifier) -> None:
    with pytest.raises(Unauthorized, match="expired"):
        verifier.verify(issue(key, time.time() - TTL - 60))


def test_a_token_within_the_clock_skew_leeway_is_accepted(key: SigningKey, verifier: AccessTokenVerifier) -> None:
    # Expired 10 s ago, inside the 30 s leeway for clocks that disagree.
    assert verifier.verify(issue(key, time.time() - TTL - 10)).username == "alice"


def test_a_signature_by_another_key_with_the_same_kid_is_refused(
    key: SigningKey, verifier: AccessTokenVerifier
) -> None:
    impostor = SigningKey(kid=key.kid, private_key_pem=generate_signing_key().private_key_pem)
    with pytest.raises(Unauthorized, match="not valid"):
        verifier.verify(issue(impostor))


def test_a_tampered_payload_is_refused(key: SigningKey, verifier: AccessTokenVerifier) -> None:
    header, _, signature = issue(key).split(".")
    forged = f"{header}.{segment(claims(username='admin'))}.{signature}"
    with pytest.raises(Unauthorized):
        verifier.verify(forged)


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_an_unsigned_alg_none_token_is_refused(key: SigningKey, verifier: AccessTokenVerifier, alg: str) -> None:
    token = f"{segment({'alg': alg, 'kid': key.kid, 'typ': 'JWT'})}.{segment(claims())}."
    with pytest.raises(Unauthorized):
        verifier.verify(token)


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_an_hmac_token_keyed_with_the_public_key_is_refused(
    key: SigningKey, verifier: AccessTokenVerifier, alg: str
) -> None:
    # The classic confusion attack: the public key (which anyone can fetch) used as an HMAC secret.
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    signing_input = f"{segment({'alg': alg, 'kid': key.kid, 'typ': 'JWT'})}.{segment(claims())}"
    for secret in (public_pem(key), json.dumps(jwks_document(key)["keys"][0]).encode()):
        signature = hmac.new(secret, signing_input.encode(), digest).digest()
        with pytest.raises(Unauthorized):
            verifier.verify(f"{signing_input}.{b64url(signature)}")


def test_a_header_naming_another_algorithm_is_refused(key: SigningKey, verifier: AccessTokenVerifier) -> None:
    # A valid ES256 signature, but the header claims ES384: the header's algorithm is pinned too.
    signing_input = f"{segment({'alg': 'ES384', 'kid': key.kid, 'typ': 'JWT'})}.{segment(claims())}"
    private = serialization.load_pem_private_key(key.private_key_pem.encode(), password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    signature = jwt.algorithms.ECAlgorithm(jwt.algorithms.ECAlgorithm.SHA256).sign(signing_input.encode(), private)
    with pytest.raises(Unauthorized):
        verifier.verify(f"{signing_input}.{b64url(signature)}")


def test_the_wrong_audience_is_refused(key: SigningKey, verifier: AccessTokenVerifier) -> None:
    with pytest.raises(Unauthorized):
        verifier.verify(issue(key, audience="some-other-api"))


def test_the_wrong_issuer_is_refused(key: SigningKey, verifier: AccessTokenVerifier) -> None:
    with pytest.raises(Unauthorized):
        verifier.verify(issue(key, issuer="evil"))


def test_an_unknown_kid_is_refused(key: SigningKey, verifier: AccessTokenVerifier) -> None:
    # The right key, even, but under a kid the JWKS does not list.
    with pytest.raises(Unauthorized):
        verifier.verify(issue(SigningKey(kid="rotated-away", private_key_pem=key.private_key_pem)))


def test_a_token_without_a_kid_is_refused(key: SigningKey, verifier: AccessTokenVerifier) -> None:
    with pytest.raises(Unauthorized):
        verifier.verify(jwt.encode(claims(), key.private_key_pem, algorithm="ES256"))


@pytest.mark.parametrize("missing", REQUIRED_CLAIMS)
def test_a_token_missing_a_claim_is_refused(key: SigningKey, verifier: AccessTokenVerifier, missing: str) -> None:
    payload = claims()
    del payload[missing]
    with pytest.raises(Unauthorized):
        verifier.verify(signed(key, payload))


@pytest.mark.parametrize(("claim", "value"), [("username", 42), ("username", None), ("sub", ["user-1"])])
def test_identity_claims_must_be_strings(
    key: SigningKey, verifier: AccessTokenVerifier, claim: str, value: object
) -> None:
    with pytest.raises(Unauthorized):
        verifier.verify(signed(key, claims(**{claim: value})))


def test_a_correctly_signed_complete_token_passes_the_same_helpers(
    key: SigningKey, verifier: AccessTokenVerifier
) -> None:
    # Guards the negative tests above: `signed` and `claims` alone do make a valid token.
    assert verifier.verify(signed(key, claims())).username == "alice"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "a.b.c",
        "..",
        "eyJhbGciOiJFUzI1NiJ9",
        "eyJhbGciOiJFUzI1NiJ9..",
        f"{segment({'alg': 'ES256', 'kid': 'k'})}.not-base64!.sig",
        b64url(b"\xff" * 64) + "." + b64url(b"\x00") + "." + b64url(b"\x01"),
        "x" * 100_000,
        "\u00e9\u00e9.\u00e9.\u00e9",
    ],
    ids=[
        "empty",
        "word",
        "three-parts",
        "dots",
        "header-only",
        "empty-parts",
        "bad-base64",
        "binary",
        "huge",
        "unicode",
    ],
)
def test_garbage_is_refused_with_unauthorized_only(verifier: AccessTokenVerifier, token: str) -> None:
    with pytest.raises(Unauthorized):
        verifier.verify(token)


def test_the_jwks_holds_only_the_public_key(key: SigningKey) -> None:
    (jwk,) = jwks_document(key)["keys"]
    assert {"kty": "EC", "crv": "P-256", "kid": key.kid, "alg": "ES256", "use": "sig"}.items() <= jwk.items()
    assert "d" not in jwk


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"keys": "nope"},
        [],
        # PyJWK raises InvalidKeyError (a PyJWTError, not a PyJWKError) for a malformed key.
        {"keys": [{"kid": "k", "kty": "EC"}]},
    ],
)
def test_a_broken_jwks_is_a_configuration_error(document: Any) -> None:
    with pytest.raises(ConfigurationError):
        AccessTokenVerifier(document, ISSUER, AUDIENCE)


@pytest.mark.parametrize("raw", ["", "{}", "[]", '{"kid": "k"}', "not json"])
def test_a_secret_that_is_not_a_signing_key_is_a_configuration_error(raw: str) -> None:
    with pytest.raises(ConfigurationError):
        SigningKey.from_json(raw)


def test_signing_key_json_round_trip(key: SigningKey) -> None:
    assert SigningKey.from_json(key.to_json()) == key
