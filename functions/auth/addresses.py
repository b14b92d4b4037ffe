"""Which address a login or sign-up counts against: the viewer's when our CloudFront says so, else
API Gateway's.

Behind the distribution, API Gateway's `sourceIp` is a CloudFront edge's address, shared by every
viewer of that edge. The `/api/*` viewer-request function sends the viewer's own address in
`VIEWER_ADDRESS_HEADER` (overwriting whatever the client sent under that name), and the origin
sends `ORIGIN_VERIFY_HEADER` with a deploy-time secret. Anyone may call the API Gateway endpoint
directly with both headers, so the viewer address is believed only with the right secret.
"""

import ipaddress

from fastapi import Request

from letslive.constants import ORIGIN_VERIFY_HEADER, VIEWER_ADDRESS_HEADER
from letslive.services.origin import came_through_our_distribution


def source_address(request: Request) -> str:
    """The caller's address as API Gateway saw it; never `X-Forwarded-For`, which the caller writes."""
    event = request.scope.get("aws.event")
    if isinstance(event, dict):
        source_ip = event.get("requestContext", {}).get("http", {}).get("sourceIp")
        if isinstance(source_ip, str) and source_ip:
            return source_ip
    return request.client.host if request.client else "unknown"


def client_address(request: Request) -> str:
    """The address that login and sign-up throttling key on (`letslive.models.addresses.client_key`)."""
    viewer = request.headers.get(VIEWER_ADDRESS_HEADER)
    if viewer and came_through_our_distribution(request.headers.get(ORIGIN_VERIFY_HEADER)):
        try:
            return str(ipaddress.ip_address(viewer.strip()))
        except ValueError:
            pass  # CloudFront always sends an address: anything else is not what it sent
    return source_address(request)
