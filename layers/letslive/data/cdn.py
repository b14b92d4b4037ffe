"""CloudFront invalidations of the distribution in front of the media.

The distribution id is read from an SSM parameter (`settings.cdn_distribution_parameter`), which
the CDN stack writes: the API stack, where the consumers run, cannot reference the distribution,
which is deployed after it.
"""

from typing import Any

from letslive.errors import DependencyUnavailable


class CloudFrontInvalidator:
    def __init__(self, distribution_parameter: str) -> None:
        self.distribution_parameter = distribution_parameter
        self._distribution_id: str | None = None

    @staticmethod
    def _client(service: str) -> Any:
        from letslive.data.aws import client

        return client(service)

    def distribution_id(self) -> str:
        """The distribution's id, read once per process."""
        from botocore.exceptions import BotoCoreError, ClientError

        if self._distribution_id is None:
            try:
                answer = self._client("ssm").get_parameter(Name=self.distribution_parameter)
            except (BotoCoreError, ClientError) as exc:
                raise DependencyUnavailable(f"reading {self.distribution_parameter}: {exc}") from exc
            self._distribution_id = str(answer["Parameter"]["Value"])
        return self._distribution_id

    def invalidate(self, paths: list[str], reference: str) -> str:
        """Invalidate `paths` (viewer paths, `*` only last); the invalidation's id. `reference` is
        the caller reference: a retry with the same one and the same paths is the same
        invalidation, not a second (billed) one."""
        from botocore.exceptions import BotoCoreError, ClientError

        distribution = self.distribution_id()
        try:
            answer = self._client("cloudfront").create_invalidation(
                DistributionId=distribution,
                InvalidationBatch={"Paths": {"Quantity": len(paths), "Items": paths}, "CallerReference": reference},
            )
        except (BotoCoreError, ClientError) as exc:
            raise DependencyUnavailable(f"invalidating {paths} on {distribution}: {exc}") from exc
        return str(answer["Invalidation"]["Id"])
