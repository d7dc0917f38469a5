"""What one trial's training records, and the numbers a sweep keeps of it.

:class:`History` is the per-epoch record the trainer returns; :func:`final_metrics` turns
a (batched) history into NaN-free summary numbers. The per-example losses and metrics are
the trainer's defaults.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

__all__ = ["History", "accuracy", "cross_entropy", "final_metrics", "squared_error"]


class History(NamedTuple):
    """Per-epoch record of one trial. Epoch axis E = epochs run by the program.

    An epoch the trial did not complete (after its own last epoch, or from its
    divergence on) holds NaN in every metric: use :func:`final_metrics` for summaries.
    With ``seeds_per_trial > 1`` every field has a leading seed axis.
    """

    train_loss: jax.Array  # (E,) mean mini-batch loss of the epoch
    val_loss: jax.Array  # (E,) validation loss after the epoch
    val_metric: jax.Array  # (E,) accuracy (classification) or MSE (regression)
    learning_rate: jax.Array  # (E,) rate used at the epoch's first step
    epochs: jax.Array  # () int32: epochs this trial asked for
    diverged_epoch: jax.Array  # () int32: 1-based epoch of divergence, 0 if none


def cross_entropy(outputs: jax.Array, y: jax.Array) -> jax.Array:
    return optax.softmax_cross_entropy_with_integer_labels(outputs, y)


def accuracy(outputs: jax.Array, y: jax.Array) -> jax.Array:
    return (jnp.argmax(outputs, axis=-1) == y).astype(jnp.float32)


def squared_error(outputs: jax.Array, y: jax.Array) -> jax.Array:
    return jnp.mean((outputs - y) ** 2, axis=-1)


def final_metrics(
    history: History, *, maximize_metric: bool = True, seed_axis: int | None = None
) -> dict[str, jax.Array]:
    """Summary numbers of a (possibly batched) history, with no NaN.

    The final values are those of the last epoch the trial completed: its own ``epochs``
    for a healthy trial, the last epoch before its divergence for a diverged one. A trial
    that completed no epoch gets losses ``inf`` and the worst metric (``-inf`` when
    higher is better, ``inf`` otherwise): it is marked ``diverged``; rank it last.

    Args:
        history: a :class:`History`, with any leading (trial, seed) axes.
        maximize_metric: whether a higher ``val_metric`` is better (accuracy: yes).
        seed_axis: the axis of ``history``'s leading axes that holds seeds; if given,
            losses and metric are averaged over it and ``*_std`` entries added, and a
            trial counts as diverged when any of its seeds diverged.

    Returns:
        ``val_loss``, ``val_metric``, ``train_loss``, ``best_epoch`` (1-based, lowest
        validation loss), ``epochs_completed`` and ``diverged``, each with the leading
        axes of ``history``.

    Examples:
        >>> import jax.numpy as jnp
        >>> nan = jnp.nan
        >>> h = History(
        ...     train_loss=jnp.array([1.0, 0.5, nan]),
        ...     val_loss=jnp.array([1.2, 0.7, nan]),
        ...     val_metric=jnp.array([0.6, 0.8, nan]),
        ...     learning_rate=jnp.array([0.1, 0.1, nan]),
        ...     epochs=jnp.array(2),
        ...     diverged_epoch=jnp.array(0),
        ... )
        >>> m = final_metrics(h)
        >>> float(m["val_loss"]), float(m["val_metric"]), int(m["best_epoch"])
        (0.7, 0.8, 2)
    """
    completed = jnp.isfinite(history.val_loss)
    n_done = jnp.sum(completed, axis=-1)
    last = jnp.maximum(n_done - 1, 0)
    worst_metric = -jnp.inf if maximize_metric else jnp.inf

    def at_last(x, fill):
        value = jnp.take_along_axis(x, last[..., None], axis=-1)[..., 0]
        return jnp.where(n_done > 0, value, fill)

    out = {
        "val_loss": at_last(history.val_loss, jnp.inf),
        "val_metric": at_last(history.val_metric, worst_metric),
        "train_loss": at_last(history.train_loss, jnp.inf),
        "best_epoch": jnp.where(
            n_done > 0, jnp.argmin(jnp.where(completed, history.val_loss, jnp.inf), axis=-1) + 1, 0
        ),
        "epochs_completed": n_done,
        "diverged": history.diverged_epoch > 0,
    }
    if seed_axis is not None:
        for name in ("val_loss", "val_metric", "train_loss"):
            out[f"{name}_std"] = jnp.std(out[name], axis=seed_axis)
            out[name] = jnp.mean(out[name], axis=seed_axis)
        out["best_epoch"] = jnp.max(out["best_epoch"], axis=seed_axis)
        out["epochs_completed"] = jnp.min(out["epochs_completed"], axis=seed_axis)
        out["diverged"] = jnp.any(out["diverged"], axis=seed_axis)
    return out
