"""CDK local bundling for the Lambda layer and functions: no Docker at synth or deploy.

The layer's third-party wheels are installed by pip for the Lambda platform and cached under
`.build/lambda-deps/<hash>`, so only the first synth for a dependency set pays for pip.
"""

import hashlib
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

REPO_ROOT = Path(__file__).resolve().parent.parent
LAYER_SOURCE = REPO_ROOT / "layers"
FUNCTIONS_SOURCE = REPO_ROOT / "functions"
DEPS_CACHE = REPO_ROOT / ".build" / "lambda-deps"
# Lambda python3.12 runs on Amazon Linux 2023 (glibc 2.34). pip takes `--platform` tags
# literally, so every manylinux level a wheel may be tagged with is listed.
LAMBDA_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux2014_x86_64")
# Local bundling always succeeds, so this image is never pulled; CDK requires one.
_NO_DOCKER = DockerImage.from_registry("local-bundling-only")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache")


def layer_requirements(pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """The domain package's run-time dependencies plus the HTTP entry points' extras."""
    project = tomllib.loads(pyproject.read_text())["project"]
    return sorted([*project["dependencies"], *project["optional-dependencies"]["http"]])


def media_layer_requirements(pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """The `media` extra only (PyAV): the clip downloads' layer, beside the domain layer."""
    return sorted(tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]["media"])


def _install_dependencies(requirements: list[str], python_version: str) -> Path:
    key = hashlib.sha256("\n".join([*LAMBDA_PLATFORMS, python_version, *requirements]).encode()).hexdigest()[:16]
    cached = DEPS_CACHE / key
    if cached.is_dir():
        return cached
    DEPS_CACHE.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{key}-", dir=DEPS_CACHE))
    result = subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--target", str(staging), *(f"--platform={p}" for p in LAMBDA_PLATFORMS), "--implementation", "cp",
            "--python-version", python_version, "--only-binary=:all:", *requirements,
        ],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise RuntimeError(f"pip could not install the Lambda layer's dependencies:\n{result.stderr[-4000:]}")
    for cache_dir in staging.rglob("__pycache__"):
        shutil.rmtree(cache_dir, ignore_errors=True)
    staging.rename(cached)  # atomic: a half-installed set is never taken from the cache
    return cached


@jsii.implements(ILocalBundling)
class LayerBundler:
    """`python/` = the wheels of `requirements` for the Lambda interpreter, plus (`domain`) the
    `letslive` package: the shared layer, or (the `media` extra, no domain package) PyAV's."""

    def __init__(
        self,
        python_version: str,
        *,
        name: str = "layer",
        requirements: Callable[[], list[str]] = layer_requirements,
        domain: bool = True,
    ) -> None:
        self.python_version = python_version
        self.key = f"{name}-python{python_version}"
        self.requirements = requirements
        self.domain = domain

    def try_bundle(self, output_dir: str, options: BundlingOptions) -> bool:
        target = Path(output_dir) / "python"
        wheels = _install_dependencies(self.requirements(), self.python_version)
        shutil.copytree(wheels, target, dirs_exist_ok=True)
        if self.domain:
            shutil.copytree(LAYER_SOURCE / "letslive", target / "letslive", ignore=_IGNORE, dirs_exist_ok=True)
        return True


@jsii.implements(ILocalBundling)
class FunctionBundler:
    """One service's entry point plus the shared `functions.common`, as the `functions` package."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.key = f"function-{service}"

    def try_bundle(self, output_dir: str, options: BundlingOptions) -> bool:
        target = Path(output_dir) / "functions"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(FUNCTIONS_SOURCE / "__init__.py", target / "__init__.py")
        for package in ("common", self.service):
            shutil.copytree(FUNCTIONS_SOURCE / package, target / package, ignore=_IGNORE, dirs_exist_ok=True)
        return True


def bundled_code(source: Path, bundler: LayerBundler | FunctionBundler) -> lambda_.Code:
    """Lambda code built by `bundler`. The functions share one source folder, so the asset is
    identified by its output, and CDK's in-process bundling cache (keyed on the options, which
    do not include the local bundler) is told apart by `command`."""
    return lambda_.Code.from_asset(
        str(source),
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(image=_NO_DOCKER, local=bundler, command=[bundler.key]),  # type: ignore[arg-type]
    )
