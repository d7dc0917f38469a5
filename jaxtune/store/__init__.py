"""A sweep's crash-proof store: one SQLite database in the sweep's folder.

``store`` (:class:`Store`, :class:`TrialRecord` and the errors) is what the sweep and the
results use; ``db`` holds the plumbing (schema, connections, the folder's lock, backups).
"""

from jaxtune.store.db import DB_NAME, LOCK_NAME
from jaxtune.store.store import (
    Store,
    StoreError,
    StoreLock,
    StoreLockedError,
    StoreNotStartedError,
    TrialRecord,
    clean_float,
)

__all__ = [
    "DB_NAME",
    "LOCK_NAME",
    "Store",
    "StoreError",
    "StoreLock",
    "StoreLockedError",
    "StoreNotStartedError",
    "TrialRecord",
    "clean_float",
]
