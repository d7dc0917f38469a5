"""The files of population-based training: one per interval boundary, written atomically.

A boundary file ``<store>/rungs/r<round>_pbt_g<group>_i<interval>.npz`` holds the whole
population after exploit and explore: every leaf of the training state (PRNG keys as
their raw data), the hyperparameters of the next interval, the curves so far (those of
the lineage each lane now holds), the lineage rows and the wall time spent. Training
continues from it exactly (:mod:`jaxtune.sweep.pbt_round`). Like a rung's file, it carries
the sweep's token: a file of another sweep, or a damaged one, is removed and recomputed
(:func:`jaxtune.sweep.state_files.read_npz`).

Example:
    >>> import tempfile, pathlib, jax.numpy as jnp, numpy as np
    >>> from jaxtune.train import History
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "b.npz"
    >>> hist = History(*(np.zeros((2, 1), np.float32),) * 4, np.ones(2), np.zeros(2))
    >>> state = {"w": jnp.arange(2.0)}
    >>> lin = {"parent": [np.arange(2)], "score": [np.zeros(2)], "hp_lr": [np.ones(2)]}
    >>> save_boundary(path, state, {"lr": jnp.ones(2)}, hist, lin, np.arange(2), 1.5)
    >>> got = load_boundary(path, {"w": jax.ShapeDtypeStruct((), jnp.float32)}, ["lr"])
    >>> np.asarray(got[0]["w"]).tolist(), got[-1]
    ([0.0, 1.0], 1.5)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxtune.sweep.state_files import read_npz, read_npz_damaged, state_dir, write_npz
from jaxtune.train import History

__all__ = ["HISTORY_FIELDS", "host_array", "load_boundary", "save_boundary"]

#: The per-epoch curves a saved training state carries (rungs and PBT boundaries).
HISTORY_FIELDS = ("train_loss", "val_loss", "val_metric", "learning_rate")


def host_array(x: Any) -> np.ndarray:
    """``x`` as a NumPy array; typed PRNG keys as their raw key data (for ``.npz``)."""
    is_key = jax.dtypes.issubdtype(getattr(x, "dtype", None), jax.dtypes.prng_key)
    return np.asarray(jax.random.key_data(x) if is_key else x)


def save_boundary(
    path: Path,
    state: Any,
    hp: Mapping[str, Any],
    hist: History,
    lineage: Mapping[str, list[np.ndarray]],
    parent: np.ndarray,
    wall: float,
    token: str | None = None,
) -> None:
    """Write one boundary file atomically (a temporary file, fsync, rename).

    Args:
        path: the file.
        state: the population's training state (population axis first).
        hp: the encoded hyperparameters of the next interval, by name.
        hist: the curves so far.
        lineage: ``parent``, ``score`` and ``hp_<name>``: one array per interval.
        parent: the lane each lane copied at this boundary.
        wall: seconds spent so far.
        token: the sweep's token (see :func:`jaxtune.sweep.state_files.read_npz`).
    """
    arrays: dict[str, np.ndarray] = {"parent": parent, "wall": np.float64(wall)}
    arrays |= {f"h_{f}": np.asarray(getattr(hist, f)) for f in HISTORY_FIELDS}
    arrays["h_epochs"] = np.asarray(hist.epochs)
    arrays["h_diverged_epoch"] = np.asarray(hist.diverged_epoch)
    arrays |= {f"hp_{n}": np.asarray(v) for n, v in hp.items()}
    arrays |= {f"l_{name}": np.stack(v) for name, v in lineage.items()}
    leaves = jax.tree_util.tree_leaves(state)
    arrays |= {f"s{j}": host_array(leaf) for j, leaf in enumerate(leaves)}
    if path.parent.name == "rungs":  # a store's: never a symbolic link
        state_dir(path.parent.parent)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    write_npz(path, arrays, token)


def load_boundary(
    path: Path, spec: Any, names: Sequence[str], token: str | None = None
) -> tuple[Any, ...] | None:
    """Read a boundary file back onto the device.

    Args:
        path: the file.
        spec: the shape of one lane's state (``jax.eval_shape`` of the trainer's init):
            its tree structure and which leaves are PRNG keys.
        names: the hyperparameter names saved.
        token: the sweep's token: a file without it (another sweep's), or a damaged
            one, is removed and None returned.

    Returns:
        ``(state, hp, hist, lineage, parent, wall)`` as :func:`save_boundary` took them,
        or None (recompute).
    """
    z = read_npz(path, token)
    if z is None:
        return None
    try:
        hp = {n: jnp.asarray(z[f"hp_{n}"]) for n in names}
        leaves, treedef = jax.tree_util.tree_flatten(spec)
        stacked = []
        for j, leaf in enumerate(leaves):
            data = jnp.asarray(z[f"s{j}"])
            if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
                data = jax.random.wrap_key_data(data)
            elif tuple(data.shape[1:]) != tuple(leaf.shape):
                raise ValueError(f"leaf {j} has shape {data.shape}")
            stacked.append(data)
        if len(leaves) != sum(1 for n in z if n.startswith("s")):
            raise ValueError("another number of state leaves")
        state = jax.tree_util.tree_unflatten(treedef, stacked)
        hist = History(
            **{f: z[f"h_{f}"] for f in HISTORY_FIELDS},
            epochs=z["h_epochs"],
            diverged_epoch=z["h_diverged_epoch"],
        )
        lineage = {name[2:]: list(z[name]) for name in z if name.startswith("l_")}
        return state, hp, hist, lineage, z["parent"], float(z["wall"])
    except (KeyError, ValueError, TypeError):
        read_npz_damaged(path)
        return None
