"""`Custom::SigningKey`: makes sure the secret holds an ES256 key and returns its public JWKS.

CloudFormation sends Create/Update/Delete and waits for a PUT to the pre-signed ResponseURL.
Every outcome is reported, failures included, or the stack would hang until its timeout.
"""

import json
import urllib.request
from typing import Any

from functions.common.observability import CLOUDFORMATION_REQUEST_ID, Observability

observability = Observability("keys")
logger = observability.logger


def _respond(event: dict[str, Any], status: str, data: dict[str, str], reason: str = "") -> None:
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason or status,
            "PhysicalResourceId": event.get("PhysicalResourceId") or event["LogicalResourceId"],
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "NoEcho": False,
            "Data": data,
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - the URL is CloudFormation's pre-signed S3 URL
        event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": ""}
    )
    with urllib.request.urlopen(request, timeout=30):  # noqa: S310
        pass


@observability.entry_point(CLOUDFORMATION_REQUEST_ID)
def handler(event: dict[str, Any], context: Any) -> None:
    from letslive.errors import LetsLiveError
    from letslive.services.signing_keys import ensure_signing_key
    from letslive.services.tokens import jwks_document

    request_type = event.get("RequestType")
    try:
        if request_type == "Delete":
            # The secret goes with the stack; nothing to undo here.
            _respond(event, "SUCCESS", {})
            return
        key = ensure_signing_key(event["ResourceProperties"]["SecretId"])
        _respond(event, "SUCCESS", {"Jwks": json.dumps(jwks_document(key)), "KeyId": key.kid})
    except (LetsLiveError, KeyError) as exc:
        logger.exception("signing key resource failed")
        _respond(event, "FAILED", {}, reason=f"{type(exc).__name__}: {exc}")
