"""DynamoDB's writes, one at a time, as DynamoDB applies them.

"Individual write operations such as UpdateItem are atomic and always operate on the most recent version
of the item, regardless of concurrency" (DynamoDB developer guide, "Best practices for handling concurrent
updates"), and a transaction's actions succeed or fail together (API reference, TransactWriteItems).
moto evaluates a condition and applies the update in separate steps with no lock, so two threads could
both pass `size(holders) < :limit` and both add a holder. The sandbox runs each write of moto's backend
under one lock.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, Final

from moto.dynamodb.models import DynamoDBBackend

from sandbox.patching import Patch, patch_attribute, restore_patches

WRITES: Final = ("put_item", "update_item", "delete_item", "batch_write_item", "transact_write_items")


class AtomicItemWrites:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._patches: list[Patch] = []

    def _serialized(self, write: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(write)
        def serialized(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return write(*args, **kwargs)

        return serialized

    def install(self) -> None:
        for name in WRITES:
            patch_attribute(
                self._patches, DynamoDBBackend, name, self._serialized(getattr(DynamoDBBackend, name))
            )

    def uninstall(self) -> None:
        restore_patches(self._patches)
