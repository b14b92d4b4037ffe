"""Deploy the real CDK app to the emulator with cdklocal, and read back its outputs."""

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.constants import (
    CTX_LOCAL,
    CTX_STAGE,
    OUTPUT_HTTP_API_ID,
    OUTPUT_MEDIA_BUCKET,
    OUTPUT_WEBSOCKET_API_ID,
    OUTPUT_WEBSOCKET_STAGE,
    table_output,
)
from letslive.constants import Table
from localstack.emulator import EMULATOR_CREDENTIALS, REPO_ROOT, Emulator

CDKLOCAL = REPO_ROOT / "node_modules" / ".bin" / "cdklocal"
EMULATOR_ACCOUNT = "000000000000"
EMULATOR_REGION = "us-east-1"


class DeployError(RuntimeError):
    pass


@dataclass(frozen=True)
class Deployment:
    """A deployed stage: the emulator it lives on and its stack outputs, flattened."""

    endpoint: str
    stage: str
    outputs: dict[str, str]

    def output(self, key: str) -> str:
        try:
            return self.outputs[key]
        except KeyError:
            raise DeployError(f"stack output {key} is missing; outputs: {sorted(self.outputs)}") from None

    def client(self, service: str, **options: Any) -> Any:
        """A boto3 client of `service` on the emulator this stage lives on."""
        import boto3

        return boto3.client(
            service,  # type: ignore[call-overload]  # any service name, as the callers need
            endpoint_url=self.endpoint,
            region_name=EMULATOR_CREDENTIALS["AWS_REGION"],
            aws_access_key_id=EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=EMULATOR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            **options,
        )

    @property
    def http_api_url(self) -> str:
        # Path-style execute-api URL: no wildcard DNS is needed on this machine.
        return f"{self.endpoint}/_aws/execute-api/{self.output(OUTPUT_HTTP_API_ID)}/$default"

    @property
    def websocket_url(self) -> str:
        """The chat WebSocket API, path-style too (the emulator serves WebSockets there)."""
        api_id, stage = self.output(OUTPUT_WEBSOCKET_API_ID), self.output(OUTPUT_WEBSOCKET_STAGE)
        return f"{self.endpoint.replace('http', 'ws', 1)}/_aws/execute-api/{api_id}/{stage}"

    @property
    def media_bucket(self) -> str:
        return self.output(OUTPUT_MEDIA_BUCKET)

    def table_name(self, table: Table) -> str:
        return self.output(table_output(table))


def cdk_env(emulator: Emulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {
        **env,
        **emulator.client_env(),
        "CDK_DISABLE_VERSION_CHECK": "1",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }


def _cdklocal(args: list[str], env: dict[str, str], log: Path) -> None:
    if not CDKLOCAL.exists():
        raise DeployError(f"{CDKLOCAL} is missing: run `make node` (or `make dev`) first")
    with log.open("ab") as out:
        result = subprocess.run([str(CDKLOCAL), *args], cwd=REPO_ROOT, env=env, stdout=out, stderr=out, check=False)
    if result.returncode != 0:
        raise DeployError(f"cdklocal {args[0]} failed ({result.returncode}); see {log}")


def deploy(
    emulator: Emulator, stage: str = "local", outdir: Path | None = None, context: dict[str, str] | None = None
) -> Deployment:
    """Bootstrap the emulator's account and deploy every stack of the app with `local=true`
    (plus any extra `context`, e.g. the local edge's media URL)."""
    outdir = outdir or REPO_ROOT / ".local" / f"cdk.out.{stage}"
    outdir.mkdir(parents=True, exist_ok=True)
    log = outdir / "deploy.log"
    log.unlink(missing_ok=True)
    env = cdk_env(emulator)
    extra = [arg for key, value in (context or {}).items() for arg in ("-c", f"{key}={value}")]
    cli_context = ["-c", f"{CTX_LOCAL}=true", "-c", f"{CTX_STAGE}={stage}", *extra, "--output", str(outdir)]
    _cdklocal(["bootstrap", f"aws://{EMULATOR_ACCOUNT}/{EMULATOR_REGION}", *cli_context], env, log)
    outputs_file = outdir / "outputs.json"
    _cdklocal(
        ["deploy", "--all", "--require-approval", "never", "--outputs-file", str(outputs_file), *cli_context], env, log
    )
    stacks: dict[str, dict[str, str]] = json.loads(outputs_file.read_text())
    flat = {key: value for outputs in stacks.values() for key, value in outputs.items()}
    return Deployment(endpoint=emulator.endpoint, stage=stage, outputs=flat)
