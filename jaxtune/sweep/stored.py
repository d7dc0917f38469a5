"""A sweep's identity in its store: written once, checked on every reopening, grown, wiped.

:func:`check_or_write` writes a new store's metadata and round 0, or checks an existing
store against the sweep: the space, the task's settings, the seed and the sampler must be
equal, and the fingerprint of what is trained (:mod:`jaxtune.sweep.fingerprint`) too. A
larger ``n_trials`` grows the sweep: a new round with the same space continues round 0's
sample sequence (``meta["extends"]`` maps it to ``[sequence, offset]``), so every stored
trial stays as it is and the new ones are those a fresh sweep of that size would have.

:func:`wipe` empties a store for ``Sweep(..., overwrite=True)``.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import sqlite3
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jax

from jaxtune.store import DB_NAME, Store, StoreError
from jaxtune.sweep import fingerprint as fp
from jaxtune.sweep.sampling import SAMPLING_VERSION

__all__ = [
    "SweepMismatchError",
    "add_zoom_round",
    "check_or_write",
    "chunk_size",
    "sequence_of",
    "token",
    "wipe",
]

log = logging.getLogger("jaxtune.sweep")

_WHAT_TO_DO = (
    "use another store (--out / store=...) or Sweep(..., overwrite=True) "
    "(jaxtune sweep --overwrite)"
)


class SweepMismatchError(ValueError):
    """The store holds another sweep (different space, task, program, seed or sampler)."""


def sequence_of(meta: Mapping[str, Any], round_: int) -> tuple[int, int]:
    """``(sequence, offset)`` of a round's samples: its own from 0, or a grown round's."""
    seq, offset = meta.get("extends", {}).get(str(round_), (round_, 0))
    return int(seq), int(offset)


def _sequence_total(store: Store, meta: Mapping[str, Any], sequence: int) -> tuple[int, int]:
    """Trials of every round of ``sequence`` and the next free round id."""
    rounds = store.rounds()
    total = sum(r["n_trials"] for r in rounds if sequence_of(meta, r["round"])[0] == sequence)
    return total, (rounds[-1]["round"] + 1 if rounds else 0)


def check_or_write(store: Store, mine: Mapping[str, Any]) -> None:
    """Write the sweep ``mine`` (its metadata) into a new store, or check it against one.

    Raises:
        SweepMismatchError: the store holds another sweep, a changed program or dataset,
            more trials than ``mine["n_trials"]``, or a grid or old random sweep that
            ``n_trials`` would grow. One line, saying what to do.
    """
    meta = store.meta()
    where = f"store {str(store.path)!r}"
    if not meta or not store.rounds():
        from jaxtune import __version__

        full = {
            **mine,
            "sampling": SAMPLING_VERSION,
            "extends": {},
            "versions": {"jaxtune": __version__, "jax": jax.__version__},
            "devices": [str(d) for d in jax.devices()],
            "created": time.time(),
            # Binds every state file to this store (lanes/*.npz): see token().
            "token": secrets.token_hex(16),
        }
        first = {k: mine[k] for k in ("space", "n_trials", "sampler", "seed")}
        # Metadata and round 0 in one transaction: no store is ever half started.
        if store.initialize(full, first):
            return
        meta = store.meta()
    for key in ("space", "task", "seed", "sampler", "scheduler"):
        if meta.get(key) != mine[key]:
            raise SweepMismatchError(
                f"{where} holds another sweep: its {key} is {meta.get(key)!r}, this "
                f"sweep's is {mine[key]!r}; {_WHAT_TO_DO}"
            )
    stored_fp = meta.get("fingerprint")
    if stored_fp is None:
        log.warning("%s predates fingerprints: jaxtune cannot check what it trained", where)
    else:
        changed = fp.mismatch(stored_fp, mine["fingerprint"])
        if changed:
            was = meta.get("versions", {}).get("jax")
            versions = (
                f" (stored with jax {was}, now {jax.__version__})"
                if was and (was != jax.__version__)
                else ""
            )
            raise SweepMismatchError(f"{where}: {changed}{versions}; {_WHAT_TO_DO}")
    if not isinstance(meta.get("token"), str):  # a store that predates tokens
        store.set_meta(token=secrets.token_hex(16))
    _grow(store, meta, mine, where)


def token(store: Store) -> str | None:
    """The sweep's token: a random string made with its store, kept in its metadata.

    Every state file the sweep writes (``lanes/*.npz``) carries it, and a file read back
    without it is another sweep's (left in the folder after its ``sweep.db`` was moved
    away): it is recomputed, never adopted (:func:`jaxtune.lanes.snapshots.load`).
    """
    value = store.meta().get("token")
    return value if isinstance(value, str) else None


def _grow(store: Store, meta: Mapping[str, Any], mine: Mapping[str, Any], where: str) -> None:
    stored, next_round = _sequence_total(store, meta, 0)
    wanted = mine["n_trials"]
    if wanted == stored:
        return
    if wanted < stored:
        raise SweepMismatchError(
            f"{where} holds {stored} trials of this sweep; n_trials={wanted} cannot shrink "
            f"it: pass n_trials={stored} (or more, to add trials)"
        )
    if mine["sampler"] == "grid":
        raise SweepMismatchError(
            f"{where}: a grid sweep cannot grow ({stored} -> {wanted} trials would change "
            f"its points); pass n_trials={stored}, or {_WHAT_TO_DO}"
        )
    if mine["sampler"] == "random" and meta.get("sampling", 1) < SAMPLING_VERSION:
        raise SweepMismatchError(
            f"{where} was made before prefix-stable sampling and cannot grow; pass "
            f"n_trials={stored}, or {_WHAT_TO_DO}"
        )
    # The mapping first: a process killed before the round is added leaves an entry for
    # a round that does not exist, which the next growth (same id) rewrites.
    extends = dict(meta.get("extends", {}))
    extends[str(next_round)] = [0, stored]
    store.set_meta(extends=extends)
    store.add_round(
        next_round,
        space=store.rounds()[0]["space"],
        n_trials=wanted - stored,
        sampler=mine["sampler"],
        seed=mine["seed"],
    )
    store.set_meta(n_trials=wanted)


def forget_extension(store: Store, round_: int) -> None:
    """Drop a stale ``extends`` entry for ``round_`` before a round of its own is added."""
    extends = dict(store.meta().get("extends", {}))
    if extends.pop(str(round_), None) is not None:
        store.set_meta(extends=extends)


def add_zoom_round(
    store: Store,
    results: Any,
    sampler: str,
    seed: int,
    *,
    top_k: int,
    n_trials: int | None,
    margin: float,
) -> None:
    """Store a coarse-to-fine round around the ``top_k`` best trials of the last round.

    The last round includes the rounds that grew it (a raised ``n_trials``); the new
    round's space is ``space.zoom(best points, margin)`` of the last round's space, and
    it has ``n_trials`` trials (default: as many as the last round).

    Raises:
        ValueError: the last round has no finished, non-diverged trial.
    """
    from jaxtune.space import Space

    rounds, meta = store.rounds(), store.meta()
    last = rounds[-1]
    sequence = sequence_of(meta, last["round"])[0]
    family = [r for r in rounds if sequence_of(meta, r["round"])[0] == sequence]
    ids = {r["round"] for r in family}
    last_space = Space.from_dict(last["space"])
    best = [t for t in results.best(len(results.trials)) if t.round in ids][:top_k]
    if not best:
        raise ValueError("zoom: the last round has no finished, non-diverged trial")
    points = last_space.encode([{k: r.hparams[k] for k in last_space.names} for r in best])
    new_space = last_space.zoom(points, margin=margin)
    forget_extension(store, last["round"] + 1)
    store.add_round(
        last["round"] + 1,
        space=new_space.to_dict(),
        n_trials=n_trials or sum(r["n_trials"] for r in family),
        sampler=sampler,
        seed=seed,
    )


def wipe(path: str | os.PathLike[str], extra: tuple[str, ...] = ()) -> None:
    """Delete a jaxtune store's database and saved states in ``path``, under its lock.

    Nothing happens when ``path`` holds no ``sweep.db``.

    Args:
        path: the store's folder.
        extra: other files of the sweep in the folder to delete too (e.g. its study).

    Raises:
        ValueError: ``path``'s ``sweep.db`` is not a jaxtune store.
        StoreLockedError: another process is writing to it.
    """
    folder = Path(path)
    db = folder / DB_NAME
    if not db.is_file():
        return
    try:
        with Store.read(folder, require_started=False) as store:
            store.meta()
            store.rounds()
    except (sqlite3.DatabaseError, StoreError) as error:
        raise ValueError(
            f"overwrite: {str(db)!r} is not a jaxtune store ({error}); remove it yourself"
        ) from None
    with Store.lock(folder):  # refused at once while another process writes
        for suffix in ("", "-wal", "-shm"):
            (folder / (DB_NAME + suffix)).unlink(missing_ok=True)
        for name in extra:
            (folder / name).unlink(missing_ok=True)
        # Saved training states (lanes; rungs of older versions) belong to the old sweep too.
        for states in ("rungs", "lanes"):
            path = folder / states
            if path.is_symlink():  # remove the link itself, never what it points to
                path.unlink()
            shutil.rmtree(path, ignore_errors=True)
    log.info("overwrite: emptied %s", folder)


def chunk_size(store: Store, round_: int, label: str, decide: Callable[[], Any]) -> Any:
    """A group's ``"auto"`` chunk size: ``decide()`` once, then the stored decision.

    Calibration outputs are thrown away and the decision is reused on resume, so every
    trial of the group runs in the same program: a resumed sweep equals the uninterrupted
    one bit for bit (and so does a repeated one, where the calibration cache holds it).

    Args:
        store: the sweep's open store (its meta ``chunk_sizes`` holds the decisions).
        round_: the round's number.
        label: the static group's label ("" for the only group).
        decide: measures and returns the chunk size.

    Returns:
        The chunk size for the group.
    """
    key = f"{round_}/{label or 'all'}"
    chosen = store.meta().get("chunk_sizes", {})
    if key not in chosen:
        chosen = {**chosen, key: decide()}
        store.set_meta(chunk_sizes=chosen)
    return chosen[key]
