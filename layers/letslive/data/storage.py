"""S3, where HLS segments, playlists and thumbnails are written: the backend of
`letslive.services.storage.MediaStorage` in AWS and the emulator."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from letslive.errors import DependencyUnavailable, MediaNotFound


class S3MediaStorage:
    """Every failure is `DependencyUnavailable` (connection refused, timeouts, 5xx, throttling,
    expired credentials): one attempt with short timeouts, for the caller to retry with backoff."""

    def __init__(self, bucket: str, probe_timeout_seconds: float, timeout_seconds: float = 10.0) -> None:
        self.bucket = bucket
        self._probe_timeout = probe_timeout_seconds
        self._timeout = timeout_seconds

    @staticmethod
    def _client(timeout_seconds: float | None = None) -> Any:
        from letslive.data.aws import client

        return client("s3", timeout_seconds)

    def put(
        self, key: str, body: bytes, content_type: str, cache_control: str, content_disposition: str | None = None
    ) -> None:
        extra = {} if content_disposition is None else {"ContentDisposition": content_disposition}
        with _unavailable(f"storing {key}"):
            self._client(self._timeout).put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType=content_type, CacheControl=cache_control, **extra
            )

    def copy(self, source_key: str, key: str, content_type: str, cache_control: str) -> None:
        """A server-side copy (no bytes pass through here); `MediaNotFound` without the source."""
        with _missing_is_not_found(source_key), _unavailable(f"copying {source_key}"):
            self._client(self._timeout).copy_object(
                Bucket=self.bucket,
                Key=key,
                CopySource={"Bucket": self.bucket, "Key": source_key},
                MetadataDirective="REPLACE",
                ContentType=content_type,
                CacheControl=cache_control,
            )

    def get(self, key: str) -> bytes:
        with _missing_is_not_found(key):
            return self._get(key)

    def _get(self, key: str) -> bytes:
        with _unavailable(f"reading {key}"):
            data: bytes = self._client(self._timeout).get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return data

    def delete(self, key: str) -> None:
        """Delete one object; idempotent (S3 answers the same when there is none)."""
        with _unavailable(f"deleting {key}"):
            self._client(self._timeout).delete_object(Bucket=self.bucket, Key=key)

    def ping(self) -> None:
        with _unavailable(f"bucket {self.bucket}"):
            self._client(self._probe_timeout).head_bucket(Bucket=self.bucket)

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object whose key starts with `prefix` (which ends with "/", so that
        `a/1/` never takes `a/10/`); the number deleted. Idempotent: nothing left is 0. A list page
        holds at most 1000 keys, exactly what one DeleteObjects call takes."""
        if not prefix.endswith("/") or prefix == "/":
            raise ValueError("a prefix to delete must name a directory, ending with '/'")
        deleted = 0
        with _unavailable(f"deleting {prefix}"):
            s3 = self._client(self._timeout)
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                keys = [{"Key": obj["Key"]} for obj in page.get("Contents", ())]
                if not keys:
                    continue
                answer = s3.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
                if answer.get("Errors"):
                    failed = answer["Errors"]
                    raise DependencyUnavailable(f"deleting {prefix}: {len(failed)} objects not deleted: {failed[:3]}")
                deleted += len(keys)
        return deleted


@contextmanager
def _missing_is_not_found(key: str) -> Iterator[None]:
    """An object that is not there is `MediaNotFound`, not an outage."""
    from botocore.exceptions import ClientError

    try:
        yield
    except DependencyUnavailable as exc:
        cause = exc.__cause__
        if isinstance(cause, ClientError) and cause.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            raise MediaNotFound(f"no object {key}") from cause
        raise


@contextmanager
def _unavailable(what: str) -> Iterator[None]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError, OSError) as exc:
        raise DependencyUnavailable(f"{what}: {exc}") from exc


def s3_media_storage() -> S3MediaStorage:
    """The configured media bucket, with what only S3 offers (`delete_prefix`)."""
    from letslive.settings import get_settings

    settings = get_settings()
    return S3MediaStorage(
        settings.media_bucket_name(), settings.probe_timeout_seconds, settings.storage_timeout_seconds
    )
