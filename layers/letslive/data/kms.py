"""KMS: sealing the secrets a streamer gives us (restream keys) so only the ingest worker, whose
role may decrypt, ever reads them again. Each is bound to its channel by the encryption
context: a sealed key copied to another channel's item does not open."""

import base64
import binascii

from letslive.constants import RESTREAM_KEY_PURPOSE
from letslive.data.aws import client
from letslive.errors import DependencyUnavailable


class KmsSealer:
    """`letslive.services.restream.KeySealer` on one KMS key."""

    def __init__(self, key_id: str) -> None:
        self.key_id = key_id

    def seal(self, secret: str, channel: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = client("kms").encrypt(
                KeyId=self.key_id, Plaintext=secret.encode(), EncryptionContext=_context(channel)
            )
        except (BotoCoreError, ClientError) as exc:
            raise DependencyUnavailable(f"could not seal the key: {exc}") from exc
        return base64.b64encode(answer["CiphertextBlob"]).decode()

    def open(self, sealed: str, channel: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            blob = base64.b64decode(sealed, validate=True)
            answer = client("kms").decrypt(KeyId=self.key_id, CiphertextBlob=blob, EncryptionContext=_context(channel))
        except (BotoCoreError, ClientError, binascii.Error) as exc:
            raise DependencyUnavailable(f"could not open the key: {exc}") from exc
        plaintext: bytes = answer["Plaintext"]
        return plaintext.decode()


def _context(channel: str) -> dict[str, str]:
    return {"purpose": RESTREAM_KEY_PURPOSE, "channel": channel}
