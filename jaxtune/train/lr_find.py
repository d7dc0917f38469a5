"""The learning-rate range test (fastai's and Lightning's ``lr_find``), batched over lanes.

Train from a fresh initialization for ``num_steps`` mini-batches while the learning rate
grows exponentially from ``min_lr`` to ``max_lr``, one step per mini-batch:

.. math::

    \\alpha_t = \\alpha_{\\min} (\\alpha_{\\max} / \\alpha_{\\min})^{t / (S - 1)},
    \\qquad t = 0, \\dots, S - 1,

and record each mini-batch's loss ``l_t`` (computed before the step that uses
``alpha_t``), smoothed with bias-corrected exponential averaging (fastai's
``AvgSmoothLoss``):

.. math::

    a_t = \\beta a_{t-1} + (1 - \\beta) l_t, \\quad a_{-1} = 0, \\qquad
    \\hat l_t = \\frac{a_t}{1 - \\beta^{t + 1}}.

A lane stops at the first step whose smoothed loss exceeds ``stop_factor`` times the best
smoothed loss so far, or is not finite: that step's loss is recorded, its update is not
applied, its parameters freeze and its later losses are NaN.

The whole test is one jitted ``lax.scan`` over steps, vmapped over *lanes*: variants of
the traced or masked hyperparameters (``{"momentum": [0.0, 0.9]}``) and/or seeds
(``{"seeds": 4}``: each lane its own initialization), so comparing eight variants costs
about one compiled program. The learning rate is written into the optimizer's
``inject_hyperparams`` state before every step (:func:`jaxtune.set_hyperparams`); the
optimizer is the trainer's family without any decay system.

The plot and the suggestions (:class:`LRFind`) follow fastai: ``"steepest"`` is the rate
where the smoothed loss falls fastest against ``log(lr)``; ``"valley"`` comes from the
longest descending stretch. :meth:`LRFind.space` turns a suggestion into a
:class:`jaxtune.LogUniform` to seed a sweep's ``learning_rate`` dimension.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from optax import tree_utils as otu

from jaxtune import hyperparams
from jaxtune.limits import MAX_LR_FIND_STEPS, check_count
from jaxtune.schedules import constant_schedule, set_hyperparams
from jaxtune.space import Choice, Fixed, LogUniform, Space
from jaxtune.train import optimizers
from jaxtune.train.batching import batch_indices
from jaxtune.train.trainer import Trainer

__all__ = ["METHODS", "LRFind", "lr_find", "steepest", "valley"]

#: The names of :meth:`LRFind.suggestion`'s methods (fastai's), the default first.
METHODS = ("steepest", "valley")


def steepest(lrs: np.ndarray, smoothed: np.ndarray) -> int:
    """Index of the steepest descent of ``smoothed`` against ``log(lrs)`` (fastai's ``steep``).

    The slope between neighbours ``(l[i+1] - l[i]) / (log lr[i+1] - log lr[i])`` is most
    negative at ``i``; the suggestion is ``lrs[i]``, the left point of that pair.

    Examples:
        >>> lrs = np.geomspace(1e-4, 1, 5)
        >>> steepest(lrs, np.array([2.0, 1.9, 1.0, 0.8, 3.0]))
        1
    """
    slopes = np.diff(smoothed) / np.diff(np.log(lrs))
    return int(np.argmin(slopes))


def valley(smoothed: np.ndarray) -> int:
    """Index suggested by fastai's ``valley``: inside the longest descending stretch.

    ``lds[i]`` is the length of the longest strictly decreasing subsequence ending at
    ``i``; the valley ends at the first ``i`` with the largest ``lds`` and starts
    ``lds`` points earlier. fastai then returns index
    ``start + floor(s) + floor(s / 2)`` with ``s = (end - start) / 3``: about halfway
    along (fastai's docs say "about 2/3"; this is their code's formula, kept exactly).

    Examples:
        >>> valley(np.array([3.0, 3.0, 2.9, 2.5, 2.0, 1.2, 1.0, 4.0]))  # 2.5: halfway down
        3
    """
    n = len(smoothed)
    lds = np.ones(n, dtype=int)
    start = end = 0
    for i in range(1, n):
        for j in range(i):
            if smoothed[i] < smoothed[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
            if lds[end] < lds[i]:
                end, start = i, i - lds[i]
    sections = (end - start) / 3
    return int(start) + int(sections) + int(sections / 2)


@dataclasses.dataclass(frozen=True, eq=False)
class LRFind:
    """What :func:`lr_find` measured, as numpy arrays; ``L`` lanes, ``S`` steps.

    Attributes:
        learning_rates: ``(S,)`` the rate of each step (the same for every lane).
        losses: ``(L, S)`` raw mini-batch losses; NaN after the lane stopped.
        smoothed: ``(L, S)`` bias-corrected smoothed losses; NaN after the lane stopped.
        stopped_at: ``(L,)`` the step at which each lane stopped (its smoothed loss
            passed ``stop_factor`` x its best, or was not finite), ``S`` if it never did.
        lanes: ``{name: (L,) array}``: each lane's hyperparameters, and ``seed`` (which
            initialization key it used) when lanes had seeds.
    """

    learning_rates: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    stopped_at: np.ndarray
    lanes: dict[str, np.ndarray]

    @property
    def num_lanes(self) -> int:
        """``L``."""
        return self.losses.shape[0]

    def lane_label(self, lane: int) -> str:
        """``"momentum=0.9, seed=1"``: a lane's own values. A lone lane without values
        trains the task as configured: ``"default hyperparameters"``; several such lanes
        (slots of the batched range test) are ``"lane 0"``, ``"lane 1"``..."""
        parts = [f"{k}={np.asarray(v)[lane].item():g}" for k, v in self.lanes.items()]
        if parts:
            return ", ".join(parts)
        return "default hyperparameters" if self.num_lanes == 1 else f"lane {lane}"

    def suggestion(
        self, method: str = "steepest", *, skip_start: int | None = None, skip_end: int = 5
    ) -> np.ndarray:
        """A suggested learning rate per lane, ``(L,)``; NaN where too few points remain.

        As in fastai, the first ``skip_start`` steps (default a tenth of them) and the
        last ``skip_end`` recorded ones are left out before looking for the point. Unlike
        fastai's ``steep``, ``"steepest"`` looks only at the descent that leads to the
        lowest smoothed loss: a lane that never reaches 4x its best (Adam often) may
        dip again after the blow-up, and that dip is no suggestion.

        Args:
            method: ``"steepest"`` (the default here) or ``"valley"`` (fastai's default
                since 2.5, more cautious: on digits with momentum 0.9 it lands 4-13x
                below the best constant rate of short runs, steepest within 2x).
            skip_start: steps left out at the start.
            skip_end: recorded steps left out at the end (a stopped lane's blow-up).
        """
        if method not in METHODS:
            raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
        steps = len(self.learning_rates)
        first = steps // 10 if skip_start is None else int(skip_start)
        out = np.full(self.num_lanes, np.nan)
        for lane in range(self.num_lanes):
            recorded = min(int(self.stopped_at[lane]) + 1, steps)
            last = max(recorded - skip_end, 0)
            lrs, loss = self.learning_rates[first:last], self.smoothed[lane, first:last]
            if len(loss) < 3 or not np.all(np.isfinite(loss)):
                continue
            if method == "valley":
                out[lane] = lrs[valley(loss)]
            elif (lowest := int(np.argmin(loss))) >= 1:  # the descent to the lowest loss
                out[lane] = lrs[steepest(lrs[: lowest + 1], loss[: lowest + 1])]
        return out

    def space(self, lane: int = 0, factor: float = 10.0, method: str = "steepest") -> LogUniform:
        """``LogUniform(s / factor, s * factor)`` around lane ``lane``'s suggestion ``s``.

        Seeds a sweep's ``learning_rate`` dimension: the suggestion at its log centre.
        """
        if not factor > 1:
            raise ValueError(f"factor must be > 1, got {factor!r}")
        s = float(self.suggestion(method)[lane])
        if not math.isfinite(s):
            raise ValueError(f"lane {lane} has no {method} suggestion (it stopped too early)")
        return LogUniform(s / factor, s * factor)

    def summary(self) -> str:
        """One line per lane: its values, both suggestions, where it stopped."""
        valleys, steeps = self.suggestion("valley"), self.suggestion("steepest")
        lines, lrs = [], self.learning_rates
        for lane in range(self.num_lanes):
            stop = int(self.stopped_at[lane])
            where = f"stopped at step {stop} (lr {lrs[stop]:.3g})" if stop < len(lrs) else ""
            lines.append(
                f"{self.lane_label(lane)}: valley {valleys[lane]:.3g}, "
                f"steepest {steeps[lane]:.3g}, {where or 'never stopped'}"
            )
        return "\n".join(lines)

    def plot(self, path: Any = None, ax: Any = None) -> Any:
        """Smoothed loss against the learning rate (log axis), one line per lane, with the
        suggestions marked; see :func:`jaxtune.results.lr_plot.plot_lr_find`."""
        from jaxtune.results.lr_plot import plot_lr_find

        return plot_lr_find(self, path, ax)


def _scan_lanes(trainer, x, y, seed_index, lane_hp, base_hp, keys, lrs, smoothing, stop_factor):
    """Every lane's range test: vmap over lanes of one ``lax.scan`` over steps.

    The data and the order's seed index are arguments, not constants: XLA would otherwise
    fold the whole shared mini-batch order (a permutation per epoch) at compile time.
    """
    spe, num_steps = trainer.steps_per_epoch, lrs.shape[0]
    epochs = -(-num_steps // spe)
    nan = jnp.float32(jnp.nan)

    def lane(hp_lane, key):
        hp = {**base_hp, **hp_lane}
        state = trainer.init(hp, key)
        arch = {k: hp[k] for k in trainer.arch_keys if k in hp}
        opt = optimizers.make_optimizer(
            trainer.optimizer, {**hp, "learning_rate": lrs[0]}, spe, factor=constant_schedule(1.0)
        )
        # The trainer's mini-batch order, epoch after epoch (shared: the same for all lanes).
        order = trainer.order_key(state, seed_index)
        idx = jax.vmap(lambda e: batch_indices(jax.random.fold_in(order, e), x.shape[0], spe))
        batches = idx(jnp.arange(epochs)).reshape(epochs * spe, -1)[:num_steps]

        def loss_fn(params, xb, yb):
            return jnp.mean(trainer.loss_fn(trainer.model.apply(params, xb, **arch), yb))

        def step(carry, inp):
            params, opt_state, avg, best, alive, stopped_at = carry
            lr, t, b = inp
            loss, grads = jax.value_and_grad(loss_fn)(params, x[b], y[b])
            new_avg = smoothing * avg + (1 - smoothing) * loss
            smooth = new_avg / (1 - smoothing ** (t + 1).astype(jnp.float32))
            new_best = jnp.where(smooth < best, smooth, best)
            stop = ~jnp.isfinite(smooth) | (smooth > stop_factor * new_best)
            opt_state = set_hyperparams(opt_state, learning_rate=lr)
            updates, new_opt = opt.update(grads, opt_state, params)
            go = alive & ~stop
            params = otu.tree_where(go, optax.apply_updates(params, updates), params)
            opt_state = otu.tree_where(go, new_opt, opt_state)
            avg, best = jnp.where(alive, new_avg, avg), jnp.where(alive, new_best, best)
            stopped_at = jnp.where(alive & stop, t, stopped_at)
            out = (jnp.where(alive, loss, nan), jnp.where(alive, smooth, nan))
            return (params, opt_state, avg, best, go, stopped_at), out

        zero = jnp.zeros((), jnp.float32)
        alive, never = jnp.asarray(True), jnp.asarray(num_steps, jnp.int32)
        init = (state.params, opt.init(state.params), zero, jnp.float32(jnp.inf), alive, never)
        steps = jnp.arange(num_steps, dtype=jnp.int32)
        carry, (losses, smoothed) = jax.lax.scan(step, init, (lrs, steps, batches))
        return losses, smoothed, carry[-1]

    return jax.vmap(lane)(lane_hp, keys)


# Static: the trainer (hashed by identity) and, through shapes, lanes and steps. Every
# number (learning rates, smoothing, stop factor, lane values) is traced: no retrace.
_program = jax.jit(_scan_lanes, static_argnums=0)


def _trainer_of(task_or_trainer: Any, names: set[str], lane_hp: Mapping[str, np.ndarray]):
    if isinstance(task_or_trainer, Trainer):
        return task_or_trainer
    task = task_or_trainer  # a jaxtune.Task, asked as a sweep asks it (no import of sweep)
    if not all(callable(getattr(task, m, None)) for m in ("prepare", "trainer", "group_of")):
        raise TypeError(
            f"lr_find needs a jaxtune.Task or a Trainer from jaxtune.make_train, got {task!r}"
        )
    # Only sizes shape the program: traced values stay out of the space, so other values
    # reuse the cached trainer and its compiled program.
    dims: dict[str, Any] = {"learning_rate": Fixed(hyperparams.TABLE["learning_rate"].default)}
    for name in ("hidden", "layers"):
        if name in names:
            dims[name] = Choice(sorted({int(v) for v in np.ravel(lane_hp[name])}))
    space = Space(**dims)
    task.prepare(space, 0)
    for name, v in ((k, v) for k in names if k in hyperparams.TABLE for v in lane_hp[k].tolist()):
        hyperparams.check_value(name, v, where="lr_find: ")
    trainer = task.trainer(space, task.group_of(space, {}))
    if not isinstance(trainer, Trainer):
        raise TypeError(f"lr_find needs the built-in trainer; the task gives {trainer!r}")
    return trainer


def _typed(name: str, values: Any) -> np.ndarray:
    """1-D values as the program takes them: int32 for integers, else float32, so that
    other values (``[0, 0]`` after ``[0.5, 0.9]``) reuse the compiled program."""
    x = np.atleast_1d(np.asarray(values))
    row = hyperparams.TABLE.get(name)
    integer = row.integer if row is not None else np.issubdtype(x.dtype, np.integer)
    return x.astype(np.int32 if integer else np.float32)


def lr_find(
    task_or_trainer: Any,
    min_lr: float = 1e-7,
    max_lr: float = 10.0,
    num_steps: int = 100,
    smoothing: float = 0.98,
    stop_factor: float = 4.0,
    lanes: Mapping[str, Any] | None = None,
    *,
    key: jax.Array | None = None,
    hparams: Mapping[str, Any] | None = None,
) -> LRFind:
    """The learning-rate range test, every lane in one compiled program.

    Args:
        task_or_trainer: a :class:`jaxtune.Task` (its default group: its own optimizer
            and mini-batch size) or a :class:`jaxtune.train.Trainer`.
        min_lr: the first step's learning rate, > 0.
        max_lr: the last step's, > ``min_lr``.
        num_steps: steps (mini-batches), >= 2; the data is cycled epoch after epoch.
        smoothing: beta of the exponential average, in [0, 1).
        stop_factor: a lane stops when its smoothed loss exceeds this times its best.
        lanes: variants run side by side: ``{name: values}`` with one value per lane for
            traced or masked hyperparameters (``momentum``, ``b1``, ``hidden``, ...), and
            ``seeds``: an int ``k``, each variant then runs ``k`` times with init keys
            ``split(key, k)`` (lanes ordered variant-major). Without seeds every lane
            uses ``key`` itself. Default: one lane.
        key: the PRNG key of initialization; default ``jax.random.key(0)``.
        hparams: values for every lane (e.g. ``{"hidden": 32}``); ``lanes`` wins.

    Returns:
        An :class:`LRFind`.

    Examples:
        >>> import jaxtune
        >>> data = jaxtune.datasets.synthetic(n=512)
        >>> model = jaxtune.models.MLP(max_hidden=16, max_layers=1, n_out=data.n_out)
        >>> trainer = jaxtune.make_train(data, model, batch_size=32)
        >>> found = lr_find(trainer, 1e-4, 100.0, num_steps=40, lanes={"momentum": [0.0, 0.9]})
        >>> found.losses.shape, found.suggestion().shape
        ((2, 40), (2,))
        >>> print(found.summary())  # doctest: +SKIP
        momentum=0: valley 0.0838, steepest 0.00119, stopped at step 35 (lr 24.2)
        momentum=0.9: valley 0.0289, steepest 0.17, stopped at step 34 (lr 17)
        >>> sweep_space = jaxtune.Space(learning_rate=found.space(lane=1, factor=10))
    """
    for name, value, ok in (
        ("min_lr", min_lr, min_lr > 0),
        ("max_lr", max_lr, max_lr > min_lr),
        ("smoothing", smoothing, 0 <= smoothing < 1),
        ("stop_factor", stop_factor, stop_factor > 1),
    ):
        if not (isinstance(value, int | float) and math.isfinite(value) and ok):
            raise ValueError(f"lr_find: bad {name} {value!r}")
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 2:
        raise ValueError(f"lr_find: num_steps must be an integer >= 2, got {num_steps!r}")
    check_count("lr_find: num_steps", num_steps, MAX_LR_FIND_STEPS, 2)
    lanes = dict(lanes or {})
    seeds = lanes.pop("seeds", None)
    if seeds is not None and (isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1):
        raise ValueError(f"lr_find: lanes['seeds'] must be an integer >= 1, got {seeds!r}")
    values = {k: _typed(k, v) for k, v in lanes.items()}
    lengths = {v.shape for v in values.values()}
    if len(lengths) > 1 or any(len(s) != 1 for s in lengths):
        raise ValueError(f"lr_find: lanes must be 1-D, all the same length, got {lengths}")
    base = {k: _typed(k, v) for k, v in (hparams or {}).items()}
    if any(v.shape != (1,) for v in base.values()):
        raise ValueError(f"lr_find: hparams must be single values, got {hparams}")
    base = {k: v[0] for k, v in base.items()}
    for name in {*values, *base}:
        if name == "learning_rate" or name in hyperparams.STATIC:
            raise ValueError(
                f"lr_find: {name!r} cannot vary here (lr_find sets the learning rate; "
                "static ones need one call each)"
            )
    n_var = next(iter(lengths))[0] if lengths else 1
    n_seeds = seeds or 1
    lane_hp = {k: np.repeat(v, n_seeds) for k, v in values.items()}
    every = {**{k: np.full(n_var * n_seeds, v) for k, v in base.items()}, **lane_hp}
    trainer = _trainer_of(task_or_trainer, set(every), every)
    key = jax.random.key(0) if key is None else key
    if not jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.wrap_key_data(key)  # a raw uint32 key from jax.random.PRNGKey
    pool = key[None] if seeds is None else jax.random.split(key, n_seeds)
    keys = pool[np.tile(np.arange(len(pool)), n_var)]
    ratio = np.arange(num_steps) / (num_steps - 1)
    lrs = (min_lr * (max_lr / min_lr) ** ratio).astype(np.float32)
    losses, smoothed, stopped = _program(
        trainer,
        trainer.data.x_train,
        trainer.data.y_train,
        jnp.int32(0),
        {k: jnp.asarray(v) for k, v in lane_hp.items()},
        {k: jnp.asarray(v) for k, v in base.items() if k not in lane_hp},
        keys,
        jnp.asarray(lrs),
        jnp.float32(smoothing),
        jnp.float32(stop_factor),
    )
    shown = dict(lane_hp)
    if seeds is not None:
        shown["seed"] = np.tile(np.arange(n_seeds), n_var)
    return LRFind(lrs, np.asarray(losses), np.asarray(smoothed), np.asarray(stopped), shown)
