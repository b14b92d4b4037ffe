"""Which address a login or sign-up counts against: the viewer's when our CloudFront says so, else
API Gateway's.

Behind the distribution, API Gateway's `sourceIp` is a CloudFront edge's address, shared by every
viewer of that edge. The `/api/*` viewer-request function sends the viewer's own address in
`VIEWER_ADDRESS_HEADER` (overwriting whatever the client sent under that name), and the origin
sends `ORIGIN_VERIFY_HEADER` with a deploy-time secret. Anyone may call the API Gateway endpoint
directly with both headers, so the viewer address is believed only with the right secret.
"""

import hmac
import ipaddress

from fastapi import Request

from letslive.constants import ORIGIN_VERIFY_HEADER, VIEWER_ADDRESS_HEADER
from letslive.data.secrets import load_origin_verify_secret
from letslive.settings import get_settings


def source_address(request: Request) -> str:
    """The caller's address as API Gateway saw it; never `X-Forwarded-For`, which the caller writes."""
    event = request.scope.get("aws.event")
    if isinstance(event, dict):
        source_ip = event.get("requestContext", {}).get("http", {}).get("sourceIp")
        if isinstance(source_ip, str) and source_ip:
            return source_ip
    return request.client.host if request.client else "unknown"


def came_through_our_distribution(presented: str | None) -> bool:
    """Whether `presented` is the origin-verify secret (never, where none is configured)."""
    secret_id = get_settings().origin_verify_secret
    if not secret_id or not presented:
        return False
    expected = load_origin_verify_secret(secret_id)
    # Constant time, so the secret cannot be guessed a byte at a time from response timings.
    return bool(expected) and hmac.compare_digest(presented.encode(), expected.encode())


def client_address(request: Request) -> str:
    """The address that login and sign-up throttling key on (`letslive.models.addresses.client_key`)."""
    viewer = request.headers.get(VIEWER_ADDRESS_HEADER)
    if viewer and came_through_our_distribution(request.headers.get(ORIGIN_VERIFY_HEADER)):
        try:
            return str(ipaddress.ip_address(viewer.strip()))
        except ValueError:
            pass  # CloudFront always sends an address: anything else is not what it sent
    return source_address(request)
