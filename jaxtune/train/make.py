"""Build a :class:`jaxtune.train.Trainer`: check the static configuration, resolve the
model and the optimizer.

:func:`make_train` accepts a model in any of the forms :func:`resolve_model` knows (linen,
an ``(init, apply)`` pair, Flax NNX) and any optimizer
:func:`jaxtune.optimizers.resolve_optimizer` knows (a family, an optax name, a factory).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
from flax import nnx

from jaxtune.limits import MAX_SEEDS_PER_TRIAL, check_count
from jaxtune.train import optimizers
from jaxtune.train.datasets import Dataset
from jaxtune.train.importpath import load_object
from jaxtune.train.metrics import accuracy, cross_entropy, squared_error
from jaxtune.train.models import MLP, FunctionalModel, Model, as_model
from jaxtune.train.nnx import NNXModel, as_nnx_model, is_nnx
from jaxtune.train.trainer import ARCH_KEYS, LossFn, Trainer

__all__ = ["make_train", "model_from_import", "resolve_model"]

_FORMS = (
    "a flax linen module (an instance), an (init, apply) pair of functions, an nnx.Module "
    "(class or instance) or a factory f(rngs) -> nnx.Module"
)


def resolve_model(model: Any) -> Model | NNXModel:
    """The trainer model for what a user passes as ``model``.

    Args:
        model: one of

            - a flax linen module instance, or any object with ``init`` and ``apply``
              methods (a :class:`jaxtune.models.Model`): used as it is;
            - a pair ``(init, apply)`` of functions: :func:`jaxtune.models.as_model`;
            - an ``nnx.Module`` class (built as ``Class(rngs=...)``), a factory
              ``f(rngs) -> nnx.Module``, or an ``nnx.Module`` instance:
              :func:`jaxtune.train.nnx.as_nnx_model`.

    Returns:
        A model the trainer can call.

    Raises:
        TypeError: anything else, e.g. a linen module *class* (pass an instance) or a
            function that takes no ``rngs``.

    Examples:
        >>> import functools, jax.numpy as jnp
        >>> from flax import nnx
        >>> resolve_model(MLP(8, 1, 3)).__class__.__name__
        'MLP'
        >>> resolve_model(functools.partial(nnx.Linear, 4, 3)).__class__.__name__
        'NNXModel'
        >>> resolve_model("cnn")
        Traceback (most recent call last):
        ...
        TypeError: model must be a flax linen module (an instance), ... got 'cnn'
    """
    if isinstance(model, nn.Module | NNXModel | FunctionalModel):
        return model
    if isinstance(model, type) and issubclass(model, nn.Module):
        raise TypeError(
            f"model: {model.__name__} is a linen module class; pass an instance, "
            f"e.g. {model.__name__}(...)"
        )
    if is_nnx(model):
        return as_nnx_model(model)
    if isinstance(model, tuple | list) and len(model) == 2 and all(map(callable, model)):
        return as_model(*model)
    has = [callable(getattr(model, m, None)) for m in ("init", "apply")]
    if all(has) and not isinstance(model, type):
        return model
    if callable(model) and not isinstance(model, type) and _takes_rngs(model):
        return as_nnx_model(model)
    raise TypeError(f"model must be {_FORMS}; got {model!r}")


def model_from_import(
    path: str, kwargs: dict[str, Any] | None = None, *, where: str = "task.model"
) -> Model | NNXModel:
    """The model an import path names, built with keyword arguments (a config's ``[model]``).

    Args:
        path: ``"package.module:Name"``. ``Name`` is a linen module class (built as
            ``Name(**kwargs)``), an ``nnx.Module`` class (built once per trial as
            ``Name(**kwargs, rngs=...)``), a function taking ``rngs`` (an NNX factory,
            called the same way), another function (called as ``Name(**kwargs)``, it
            must return a model :func:`resolve_model` accepts), or a model object
            (then ``kwargs`` must be empty).
        kwargs: keyword arguments, e.g. ``{"n_out": 10, "features": 16}``.
        where: the config key, for messages.

    Raises:
        ValueError: naming ``where``: a bad import path, a missing attribute, a class that
            is not a flax module, arguments the model does not take, or an object that
            is no model.

    Examples:
        >>> model_from_import("jaxtune.train.models:CNN", {"n_out": 10}).n_out
        10
        >>> model_from_import("collections:OrderedDict")
        Traceback (most recent call last):
        ...
        ValueError: task.model: collections:OrderedDict is a class but not a flax module ...
    """
    kwargs = dict(kwargs or {})
    obj = load_object(path, where=where)
    try:
        if isinstance(obj, type) and issubclass(obj, nn.Module):
            return obj(**kwargs)
        if isinstance(obj, type) and issubclass(obj, nnx.Module):
            return as_nnx_model(functools.partial(obj, **kwargs))
        if isinstance(obj, type):
            raise ValueError(f"{where}: {path} is a class but not a flax module (linen or nnx)")
        if inspect.isfunction(obj) and _takes_rngs(functools.partial(obj, **kwargs)):
            return as_nnx_model(functools.partial(obj, **kwargs))
        if inspect.isfunction(obj):
            return resolve_model(obj(**kwargs))
        if kwargs:
            raise ValueError(f"{where}: {path} is a model object; it takes no [model] arguments")
        return resolve_model(obj)
    except TypeError as e:
        raise ValueError(f"{where}: {path}: {e}") from None


def _takes_rngs(f: Any) -> bool:
    try:
        inspect.signature(f).bind(rngs=None)
    except (TypeError, ValueError):
        return False
    return True


def make_train(
    data: Dataset,
    model: Any = None,
    *,
    optimizer: optimizers.Optimizer = "momentum",
    batch_size: int = 64,
    max_epochs: int = 10,
    loss_fn: LossFn | None = None,
    metric_fn: LossFn | None = None,
    metric_name: str | None = None,
    maximize: bool | None = None,
    arch_keys: Sequence[str] | None = None,
    decay_systems: Sequence[str] = optimizers.DECAY_SYSTEMS,
    piecewise_boundaries: Sequence[int] | None = None,
    piecewise_scales: Sequence[float] | None = None,
    seeds_per_trial: int = 1,
    data_order: str = "shared",
    order_seed: int = 0,
) -> Trainer:
    """Build a pure trainer for one static configuration.

    Args:
        data: a :class:`jaxtune.datasets.Dataset` held on device.
        model: a flax linen module, an ``(init, apply)`` pair of functions (or a
            :class:`jaxtune.models.Model`), or a Flax NNX model: an ``nnx.Module``
            class or a factory ``f(rngs) -> nnx.Module`` (each trial initialized from
            its own key), or an instance (its state starts every trial), see
            :mod:`jaxtune.train.nnx` and :func:`resolve_model`. Default:
            ``MLP(max_hidden=64, max_layers=2)`` with the data's output width.
        optimizer: one of :data:`jaxtune.optimizers.FAMILIES`, the name of any optax
            optimizer (``"lion"``, ``"adabelief"``...), an import path
            ``"package.module:factory"``, or a callable returning an
            ``optax.GradientTransformation`` (``optax.lion``, your own factory). For
            the last three, a trial's optimizer hyperparameters are the factory's
            numeric arguments by name, each traced through ``optax.inject_hyperparams``
            (see :mod:`jaxtune.train.optax_any`).
        batch_size: mini-batch size, in ``[1, n_train]``.
        max_epochs: epochs the program runs; each trial's ``epochs`` must not exceed it.
        loss_fn: ``(outputs, targets) -> (batch,)`` per-example loss. Default: softmax
            cross-entropy (classification) or squared error (regression).
        metric_fn: ``(outputs, targets) -> (batch,)`` per-example validation metric.
            Default: accuracy (classification) or squared error (regression).
        metric_name: its name in results. Default ``"accuracy"`` or ``"mse"``.
        maximize: whether a higher metric is better. Default: True for the built-in
            accuracy, False for squared error; required with a ``metric_fn`` of your own
            (nothing is inferred from its name).
        arch_keys: hyperparameters passed to the model as keyword arguments. Default
            ``("hidden", "layers")`` for :class:`jaxtune.models.MLP`, none otherwise.
        decay_systems: the systems a trial's ``decay_system`` index refers to.
        piecewise_boundaries: epochs of the ``"piecewise"`` system. Default: half and
            three quarters of ``max_epochs``.
        piecewise_scales: its factors. Default ``(0.1, 0.1)``.
        seeds_per_trial: seeds trained per trial (batched too).
        data_order: ``"shared"`` (default): every trial sees the same mini-batches in
            the same order (one order per seed index, from ``order_seed``), so under
            vmap the batch is gathered once for all trials and the first layer becomes
            one large matmul; it also pairs the comparison between hyperparameters
            (common random numbers). ``"per_trial"``: each trial's order comes from its
            own key. Initial parameters come from the trial's key either way.
        order_seed: seed of the shared order (a sweep passes its own seed).

    Returns:
        A :class:`Trainer`: ``trainer(hparams, key) -> History``.

    Examples:
        >>> import jax, jaxtune
        >>> data = jaxtune.datasets.synthetic(n=256, seed=0)
        >>> trainer = make_train(data, batch_size=32, max_epochs=3)
        >>> hist = trainer({"learning_rate": 0.1, "hidden": 16, "layers": 1}, jax.random.key(0))
        >>> hist.val_loss.shape, bool(hist.val_loss[-1] < hist.val_loss[0])
        ((3,), True)
        >>> import optax
        >>> lion = make_train(data, batch_size=32, max_epochs=2, optimizer=optax.lion)
        >>> hp = {"learning_rate": 1e-3, "b1": 0.95, "hidden": 16, "layers": 1}
        >>> lion(hp, jax.random.key(0)).val_metric.shape
        (2,)
    """
    classification = data.task == "classification"
    if model is None:
        model = MLP(max_hidden=64, max_layers=2, n_out=data.n_out)
    model = resolve_model(model)
    optimizer = optimizers.resolve_optimizer(optimizer)
    n_train = data.x_train.shape[0]
    if not isinstance(batch_size, int) or not 1 <= batch_size <= n_train:
        raise ValueError(f"batch_size must be an integer in [1, {n_train}], got {batch_size!r}")
    if not isinstance(max_epochs, int) or max_epochs < 1:
        raise ValueError(f"max_epochs must be an integer >= 1, got {max_epochs!r}")
    seeds_per_trial = check_count("seeds_per_trial", seeds_per_trial, MAX_SEEDS_PER_TRIAL)
    decay_systems = tuple(decay_systems)
    unknown = sorted(set(decay_systems) - set(optimizers.DECAY_SYSTEMS))
    if unknown or not decay_systems:
        raise ValueError(
            f"decay_systems must be among {list(optimizers.DECAY_SYSTEMS)}, got {unknown or []}"
        )
    if piecewise_boundaries is None:
        piecewise_boundaries = (max(max_epochs // 2, 1), max(3 * max_epochs // 4, 1))
    if piecewise_scales is None:
        piecewise_scales = (0.1,) * len(piecewise_boundaries)
    if data_order not in ("shared", "per_trial"):
        raise ValueError(f"data_order must be 'shared' or 'per_trial', got {data_order!r}")
    if not isinstance(order_seed, int) or isinstance(order_seed, bool) or order_seed < 0:
        raise ValueError(f"order_seed must be an integer >= 0, got {order_seed!r}")
    if metric_fn is not None and maximize is None:
        raise ValueError(
            "maximize: say whether a higher metric_fn is better (maximize=True or False)"
        )
    if maximize is None:
        maximize = classification
    if arch_keys is None:
        arch_keys = ARCH_KEYS if isinstance(model, MLP) else ()
    return Trainer(
        data=data,
        model=model,
        optimizer=optimizer,
        batch_size=batch_size,
        max_epochs=max_epochs,
        loss_fn=loss_fn or (cross_entropy if classification else squared_error),
        metric_fn=metric_fn or (accuracy if classification else squared_error),
        metric_name=metric_name or ("accuracy" if classification else "mse"),
        maximize=bool(maximize),
        arch_keys=tuple(arch_keys),
        decay=optimizers.Decay(
            decay_systems, tuple(piecewise_boundaries), tuple(piecewise_scales)
        ),
        seeds_per_trial=seeds_per_trial,
        data_order=data_order,
        order_seed=order_seed,
    )
