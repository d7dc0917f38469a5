"""The built-in supervised trainer: one pure ``train(hparams, key)`` per static config.

:func:`make_train` takes the *static* configuration (dataset, model, optimizer family,
mini-batch size, largest epoch count) and returns a :class:`Trainer`, a pure function
``trainer(hparams, key) -> History`` of one trial's *traced* numbers. The whole training,
mini-batching included, runs under ``jit`` as ``lax.scan`` over epochs and steps, so
:func:`jaxtune.parallel.run` batches hundreds of trials into one program.

The three kinds of hyperparameter (see the design note):

- traced: ``learning_rate``, ``momentum``, ``b1``, ``b2``, ``eps``, ``weight_decay``,
  ``rms_decay``, ``decay_system`` (an index into ``decay_systems``), ``decay_rate`` (d),
  ``decay_base``, ``decay_k`` (:mod:`jaxtune.optimizers`);
- masked: ``hidden`` and ``layers`` (for :class:`jaxtune.models.MLP`, padded to the
  largest value and masked) and ``epochs`` (the program runs ``max_epochs``; a trial stops
  updating after its own last epoch, so it equals a separate run of that length);
- static: ``batch_size``, ``optimizer``, the model: arguments of :func:`make_train`.

With an optimizer other than the six families (an optax name such as ``"lion"``, or a
factory, see :mod:`jaxtune.train.optax_any`), the traced optimizer names are the
factory's numeric arguments instead; the decay hyperparameters stay the trainer's.

A model may carry state that the forward pass updates (an NNX model's batch statistics
and RNG streams, :mod:`jaxtune.train.nnx`): it lives in ``TrainState.model_state``, goes
through every step with the parameters, and is never differentiated.

A trial whose loss or parameters turn non-finite stops updating from that step on
(parameters frozen at their last finite values) and is marked diverged at that epoch.
Every trial is computed independently, so a diverging lane never changes another's numbers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from optax import tree_utils as otu

from jaxtune import hyperparams
from jaxtune.schedules import held_hyperparams, set_hyperparams
from jaxtune.train import optimizers
from jaxtune.train.datasets import Dataset, batch_indices
from jaxtune.train.metrics import History
from jaxtune.train.models import Model
from jaxtune.train.optax_any import DECAY_HYPERPARAMS, AnyOptimizer

__all__ = ["TrainState", "Trainer"]

LossFn = Callable[[jax.Array, jax.Array], jax.Array]  # (outputs, targets) -> (batch,)

# The masked hyperparameters that size the model (epochs is masked too, in the trainer).
ARCH_KEYS = tuple(k for k in hyperparams.MASKED if k != "epochs")


class TrainState(NamedTuple):
    """Everything needed to continue one trial's training. Shapes are per trial."""

    params: Any  # the model's parameter pytree
    opt_state: optax.OptState  # chain(inject_hyperparams state, scale_by_schedule state)
    epoch: jax.Array  # () int32: epochs the program has run (active or not)
    key: jax.Array  # () PRNG key: with per-trial order, epoch e's order is fold_in(key, e)
    diverged_epoch: jax.Array  # () int32: 1-based epoch of divergence, 0 if none
    model_state: Any = ()  # what the forward pass updates (batch statistics, RNG streams)


def _in_hyperparams(path: tuple[Any, ...], _: Any) -> bool:
    return len(path) >= 2 and getattr(path[-2], "name", None) == "hyperparams"


def _all_finite(tree: Any) -> jax.Array:
    leaves = jax.tree_util.tree_leaves(tree)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in leaves]))


@dataclasses.dataclass(frozen=True, eq=False)
class Trainer:
    """A pure trainer for one static configuration. Call it, or use its pieces.

    ``trainer(hparams, key)`` trains from scratch and returns a :class:`History`.
    ``trainer.init`` and ``trainer.run`` split that in two, so the state can be taken
    after any epoch, saved, changed (:func:`jaxtune.set_hyperparams` on
    ``state.opt_state``, i.e. manual decay) and resumed.

    Build it with :func:`make_train`.
    """

    data: Dataset
    model: Model
    optimizer: str | AnyOptimizer  # a family name, or any optax optimizer (resolved)
    batch_size: int
    max_epochs: int
    loss_fn: LossFn
    metric_fn: LossFn
    metric_name: str
    maximize: bool  # whether a higher validation metric is better
    arch_keys: tuple[str, ...]
    decay: optimizers.Decay
    seeds_per_trial: int
    data_order: str  # "shared" (one order per seed index for all trials) or "per_trial"
    order_seed: int  # the shared order's seed

    @property
    def objective(self) -> str:
        """The name a sweep stores the final validation metric under, e.g. ``val_accuracy``."""
        return f"val_{self.metric_name}"

    @property
    def steps_per_epoch(self) -> int:
        """Mini-batches per epoch (the remainder of the training set is dropped)."""
        return self.data.x_train.shape[0] // self.batch_size

    def _optimizer(
        self, hparams: Mapping[str, Any]
    ) -> tuple[optax.GradientTransformation, optax.Schedule]:
        factor = self.decay.factor(hparams, self.steps_per_epoch)
        opt = optimizers.make_optimizer(
            self.optimizer, hparams, self.steps_per_epoch, factor=factor
        )
        return opt, factor

    def _arch(self, hparams: Mapping[str, Any]) -> dict[str, Any]:
        return {k: hparams[k] for k in self.arch_keys if k in hparams}

    def _check_names(self, hparams: Mapping[str, Any]) -> None:
        # Names are static even when values are traced: a typo would otherwise train
        # silently with a default value.
        if isinstance(self.optimizer, AnyOptimizer):
            own = {*DECAY_HYPERPARAMS, *self.arch_keys, "epochs"}
            unknown = sorted(set(hparams) - own - set(self.optimizer.arguments))
            if unknown:
                raise ValueError(
                    f"unknown hyperparameters {unknown} for this trainer: optimizer "
                    f"{self.optimizer.name!r} takes {list(self.optimizer.hyperparams)}, "
                    f"the trainer {sorted(own)}"
                )
            return
        known = {*hyperparams.TRACED, *self.arch_keys, "epochs"}
        unknown = sorted(set(hparams) - known)
        if unknown:
            raise ValueError(
                f"unknown hyperparameters {unknown} for this trainer; known: {sorted(known)}"
            )

    # A model either follows the Model protocol (no state) or, like an NNX model that
    # holds batch statistics or RNG streams, also has init_with_state / apply_train /
    # apply_eval. The trainer always speaks the second form.

    def _init_model(self, key: jax.Array, hparams: Mapping[str, Any]) -> tuple[Any, Any]:
        x, arch = self.data.x_train[:1], self._arch(hparams)
        if hasattr(self.model, "init_with_state"):
            return self.model.init_with_state(key, x, **arch)
        return self.model.init(key, x, **arch), ()

    def _apply_train(self, params, model_state, x, hparams) -> tuple[Any, Any]:
        if hasattr(self.model, "apply_train"):
            return self.model.apply_train(params, model_state, x, **self._arch(hparams))
        return self.model.apply(params, x, **self._arch(hparams)), model_state

    def _apply_eval(self, params, model_state, x, hparams) -> Any:
        if hasattr(self.model, "apply_eval"):
            return self.model.apply_eval(params, model_state, x, **self._arch(hparams))
        return self.model.apply(params, x, **self._arch(hparams))

    def init(self, hparams: Mapping[str, Any], key: jax.Array) -> TrainState:
        """A fresh state for one trial: parameters drawn from ``key``, epoch 0."""
        self._check_names(hparams)
        init_key, data_key = jax.random.split(key)
        params, model_state = self._init_model(init_key, hparams)
        opt_state = self._optimizer(hparams)[0].init(params)
        zero = jnp.zeros((), jnp.int32)
        return TrainState(params, opt_state, zero, data_key, zero, model_state)

    def with_hyperparams(self, state: TrainState, hparams: Mapping[str, Any]) -> TrainState:
        """``state`` with the optimizer numbers of ``hparams`` written into it, in place.

        The optimizer reads its numbers from its ``inject_hyperparams`` state, not from
        the ``hparams`` given to :meth:`run`: this writes them there
        (:func:`jaxtune.set_hyperparams`), so a changed learning rate takes effect with
        no recompile (what population-based training does to a copied state). The decay
        hyperparameters are read from ``hparams`` at every :meth:`run`.

        Examples:
            >>> import jax, jaxtune
            >>> trainer = jaxtune.make_train(jaxtune.datasets.synthetic(), optimizer="sgd")
            >>> state = jax.jit(trainer.init)({"learning_rate": 0.1}, jax.random.key(0))
            >>> state = jax.jit(trainer.with_hyperparams)(state, {"learning_rate": 0.05})
            >>> round(float(state.opt_state[0].hyperparams["learning_rate"]), 6)
            0.05
        """
        fresh = self._optimizer(hparams)[0].init(state.params)
        numeric, _ = held_hyperparams(state.opt_state)
        values = {}
        for name in sorted(numeric):
            found = otu.tree_get_all_with_path(fresh, name, _in_hyperparams)
            if found:
                values[name] = min(found, key=lambda pair: len(pair[0]))[1]
        return state._replace(opt_state=set_hyperparams(state.opt_state, **values))

    def _loss(self, params, model_state, hparams, x, y):
        out, model_state = self._apply_train(params, model_state, x, hparams)
        return jnp.mean(self.loss_fn(out, y)), model_state

    def _evaluate(self, params, model_state, hparams) -> tuple[jax.Array, jax.Array]:
        out = self._apply_eval(params, model_state, self.data.x_val, hparams)
        y = self.data.y_val
        return jnp.mean(self.loss_fn(out, y)), jnp.mean(self.metric_fn(out, y))

    def order_key(self, state: TrainState, seed_index: int | jax.Array = 0) -> jax.Array:
        """The key whose ``fold_in(., epoch)`` orders an epoch's mini-batches.

        Shared order: ``fold_in(key(order_seed), seed_index)``, the same for every trial
        (a constant under vmap, so every trial's batch is one gather). Per-trial order:
        the state's own key.
        """
        if self.data_order == "shared":
            return jax.random.fold_in(jax.random.key(self.order_seed), seed_index)
        return state.key

    def run(
        self,
        state: TrainState,
        hparams: Mapping[str, Any],
        num_epochs: int,
        *,
        start_epoch: int | None = None,
        seed_index: int | jax.Array = 0,
    ) -> tuple[TrainState, History]:
        """Train ``num_epochs`` (static) more epochs from ``state``.

        Epochs past the trial's own ``epochs`` hyperparameter (default ``max_epochs``)
        leave the state unchanged, so the history of a 5-epoch trial inside a 10-epoch
        program equals a separate 5-epoch run. Pure; jit and vmap it freely.

        Args:
            state: where to continue from (see :meth:`init`).
            hparams: the trial's numbers (traced or concrete).
            num_epochs: epochs to run (static).
            start_epoch: ``state.epoch`` when the caller knows it statically (e.g. 0 for
                a fresh state). The epoch's data order then is not batched over trials
                under vmap, which keeps shared-order batches one gather; the numbers are
                the same either way.
            seed_index: which of a trial's seeds this is (selects the shared order).

        Returns:
            The new state and the :class:`History` of these epochs.
        """
        self._check_names(hparams)
        epochs = jnp.asarray(hparams.get("epochs", self.max_epochs), jnp.int32)
        opt, factor = self._optimizer(hparams)
        grad_fn = jax.value_and_grad(self._loss, has_aux=True)
        x, y = self.data.x_train, self.data.y_train
        order = self.order_key(state, seed_index)
        nan = jnp.asarray(jnp.nan, jnp.float32)

        def step(carry, idx):
            params, opt_state, model_state, ok, loss_sum, steps_done = carry
            (loss, new_model), grads = grad_fn(params, model_state, hparams, x[idx], y[idx])
            updates, new_opt = opt.update(grads, opt_state, params)
            new_params = optax.apply_updates(params, updates)
            finite = jnp.isfinite(loss) & _all_finite(new_params)
            apply = ok & finite
            params = otu.tree_where(apply, new_params, params)
            opt_state = otu.tree_where(apply, new_opt, opt_state)
            model_state = otu.tree_where(apply, new_model, model_state)
            loss_sum = loss_sum + jnp.where(apply, loss, 0.0)
            return (params, opt_state, model_state, apply, loss_sum, steps_done + apply), None

        def epoch(state: TrainState, i):
            e = state.epoch  # 0-based index of the epoch about to run
            e_order = e if start_epoch is None else start_epoch + i  # equal; maybe static
            active = (e < epochs) & (state.diverged_epoch == 0)
            lr = optimizers.learning_rate_at(state.opt_state, factor)
            idx = batch_indices(jax.random.fold_in(order, e_order), x.shape[0], self.batch_size)
            zero = jnp.zeros((), jnp.float32)
            init = (
                state.params,
                state.opt_state,
                state.model_state,
                active,
                zero,
                jnp.zeros((), jnp.int32),
            )
            (params, opt_state, model_state, ok, loss_sum, done), _ = jax.lax.scan(step, init, idx)
            diverged = active & ~ok
            completed = active & ok
            val_loss, val_metric = self._evaluate(params, model_state, hparams)
            record = History(
                train_loss=jnp.where(completed, loss_sum / jnp.maximum(done, 1), nan),
                val_loss=jnp.where(completed, val_loss, nan),
                val_metric=jnp.where(completed, val_metric, nan),
                learning_rate=jnp.where(active, lr, nan),
                epochs=epochs,
                diverged_epoch=jnp.where(diverged, e + 1, state.diverged_epoch),
            )
            # An inactive epoch advances the program's epoch index (so the data order of
            # a resumed run stays aligned) and changes nothing else: the scan above
            # applied no update when ``active`` was false.
            new_state = TrainState(
                params, opt_state, e + 1, state.key, record.diverged_epoch, model_state
            )
            return new_state, record

        state, hist = jax.lax.scan(epoch, state, jnp.arange(num_epochs, dtype=jnp.int32))
        hist = hist._replace(epochs=epochs, diverged_epoch=state.diverged_epoch)
        return state, hist

    def train_one(
        self, hparams: Mapping[str, Any], key: jax.Array, seed_index: int | jax.Array = 0
    ) -> History:
        """Train one seed of one trial from scratch for ``max_epochs``."""
        state = self.init(hparams, key)
        return self.run(state, hparams, self.max_epochs, start_epoch=0, seed_index=seed_index)[1]

    def __call__(self, hparams: Mapping[str, Any], key: jax.Array) -> History:
        """Train one trial from scratch; with several seeds, a leading seed axis."""
        if self.seeds_per_trial == 1:
            return self.train_one(hparams, key)
        keys = jax.random.split(key, self.seeds_per_trial)
        seeds = jnp.arange(self.seeds_per_trial)
        return jax.vmap(self.train_one, in_axes=(None, 0, 0))(hparams, keys, seeds)
