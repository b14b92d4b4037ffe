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
from collections.abc import Callable
from typing import Any

Hook = Callable[[], None]

RUNTIME_HOOKS_MODULE = "snapshot_restore_py"

_installed = False


def _register(hook: Hook, *, before_snapshot: bool) -> bool:
    try:
        runtime: Any = importlib.import_module(RUNTIME_HOOKS_MODULE)
    except ImportError:
        return False
    register = runtime.register_before_snapshot if before_snapshot else runtime.register_after_restore
    register(hook)
    return True


def before_snapshot(hook: Hook) -> bool:
    """Run `hook` before Lambda takes the snapshot (SnapStart only); False outside Lambda."""
    return _register(hook, before_snapshot=True)


def after_restore(hook: Hook) -> bool:
    """Run `hook` in every sandbox restored from the snapshot; False outside Lambda."""
    return _register(hook, before_snapshot=False)


def reseed_random() -> None:
    """A fresh seed from the OS for the `random` module's shared generator."""
    random.seed()


def drop_aws_clients() -> None:
    """Forget every cached AWS client, so the next call makes one in this sandbox."""
    # Imported here: the handler's own import stays free of the settings and the data layer.
    from letslive.services.clients import forget_aws_clients

    forget_aws_clients()


AFTER_RESTORE: tuple[Hook, ...] = (reseed_random, drop_aws_clients)


def install() -> bool:
    """Register `AFTER_RESTORE` with the runtime, once per process; False outside Lambda."""
    global _installed
    if not _installed:
        _installed = all([after_restore(hook) for hook in AFTER_RESTORE])
    return _installed
