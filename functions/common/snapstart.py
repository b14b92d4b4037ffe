"""Lambda SnapStart runtime hooks: what runs before the snapshot and after every restore.

With SnapStart (the AWS shape's HTTP functions, `infra/constructs/functions.py`) Lambda runs a
published version's init once, snapshots the sandbox's memory, and starts every new sandbox of
that version by restoring the snapshot. Whatever init left in memory is then the same in all of
them, so an after-restore hook makes what must differ differ again:

- the `random` module's generator, seeded once from the OS at import: every restored sandbox
  would draw the same "random" numbers (backoff jitter, Powertools' log sampling, `uuid.uuid1`'s
  clock sequence). `secrets`, `uuid.uuid4`, `random.SystemRandom` and argon2's salts read the
  OS's entropy on every call and have no state to re-seed. (The `str` hash seed is fixed at
  interpreter start and cannot be changed; nothing here relies on it being secret.)
- AWS clients cached per process (boto3 clients, PynamoDB connections): their pooled connections
  and credentials would be the snapshot's. The entry points' before-snapshot hooks make none, so
  this is a safety net for anything that did.

`snapshot_restore_py` is part of Lambda's managed Python runtimes; elsewhere (tests, the local
emulator's Python 3.11, the bench) it is absent and nothing is registered. The hooks are plain
functions, so tests call them directly.
"""

import importlib
import random
import sys
from collections.abc import Callable
from typing import Any

Hook = Callable[[], None]

RUNTIME_HOOKS_MODULE = "snapshot_restore_py"
# Function caches of the domain package that hold AWS clients: (module, attribute).
CLIENT_CACHES = (
    ("letslive.data.aws", "client"),
    ("letslive.data.tables", "connection"),
    ("letslive.data.connections_api", "_client"),
)

_installed = False


def _runtime() -> Any | None:
    try:
        return importlib.import_module(RUNTIME_HOOKS_MODULE)
    except ImportError:
        return None


def before_snapshot(hook: Hook) -> bool:
    """Run `hook` before Lambda takes the snapshot (SnapStart only); False outside Lambda."""
    runtime = _runtime()
    if runtime is None:
        return False
    runtime.register_before_snapshot(hook)
    return True


def after_restore(hook: Hook) -> bool:
    """Run `hook` in every sandbox restored from the snapshot; False outside Lambda."""
    runtime = _runtime()
    if runtime is None:
        return False
    runtime.register_after_restore(hook)
    return True


def reseed_random() -> None:
    """A fresh seed from the OS for the `random` module's shared generator."""
    random.seed()


def drop_aws_clients() -> None:
    """Forget every cached AWS client, so the next call makes one in this sandbox."""
    for module_name, attribute in CLIENT_CACHES:
        module = sys.modules.get(module_name)  # never imported: nothing cached
        cached = getattr(module, attribute, None)
        if cached is not None:
            cached.cache_clear()
    models = sys.modules.get("pynamodb.models")
    if models is not None:
        # Each PynamoDB model class keeps its table connection (and its botocore client).
        pending: list[type] = [models.Model]
        while pending:
            cls = pending.pop()
            pending.extend(cls.__subclasses__())
            if cls.__dict__.get("_connection") is not None:
                setattr(cls, "_connection", None)  # noqa: B010  # a class attribute, as PynamoDB sets it


AFTER_RESTORE: tuple[Hook, ...] = (reseed_random, drop_aws_clients)


def install() -> bool:
    """Register `AFTER_RESTORE` with the runtime, once per process; False outside Lambda."""
    global _installed
    if _installed:
        return True
    if _runtime() is None:
        return False
    for hook in AFTER_RESTORE:
        after_restore(hook)
    _installed = True
    return True
