"""Flax NNX modules as trainer models: ``nnx.split`` / ``nnx.merge`` around a pure step.

The trainer is functional (pure ``init`` and ``apply`` under ``jit``, ``vmap`` and
``lax.scan``); an NNX module is a mutable Python object. :class:`NNXModel` bridges the
two: the module's *graph definition* is static (computed once, from an abstract module),
its state is a pytree that travels through the program. ``nnx.merge`` rebuilds the
module inside the traced step, ``nnx.state`` takes what the forward pass changed.

What an NNX model may hold:

- ``nnx.Param`` (and subclasses such as ``LoRAParam``): the parameters, differentiated
  and updated by the optimizer;
- ``nnx.BatchStat`` (``nnx.BatchNorm``'s running mean and variance) and ``nnx.RngState``
  (the key and count of an RNG stream, e.g. ``nnx.Dropout(rate, rngs=rngs)``): carried
  through every training step as the *model state*, updated by the forward pass, never
  differentiated. A trial's streams start from its own key, so dropout masks differ
  between trials and a batched trial still equals the same trial alone;
- anything else (``nnx.Cache``, ``nnx.Intermediate``, custom ``nnx.Variable`` types): a
  ``TypeError`` naming the variable's type and path when the trainer is built.

A module may keep its ``nnx.Rngs`` (``self.rngs = rngs``): its streams are RNG state
too, carried the same way. A module whose ``__call__`` takes ``rngs`` (the Flax MNIST
example's ``CNN.__call__(self, x, rngs)``) is passed an ``nnx.Rngs`` of the trial's key
at every call, carried through training as well: the example builds its model from
``nnx.Rngs(0)`` and calls it with another ``nnx.Rngs(0)``, and so does a trial with its
key.

The module is trained in train mode and evaluated in eval mode
(``nnx.view(module, deterministic=..., use_running_average=...)``, as ``model.train()``
and ``model.eval()`` would set them): dropout on and batch statistics from the
mini-batch while training, dropout off and running averages for the validation metrics.

Three ways to give the model (:func:`as_nnx_model`):

- a class ``Net`` whose ``__init__`` takes ``rngs`` only (else use
  ``functools.partial(Net, 64, 10)``), or a factory ``f(rngs) -> nnx.Module``, called as
  ``f(rngs=nnx.Rngs(key))`` once per trial: each trial starts from its own parameters
  (the main path);
- a module *instance*: its current state (parameters, batch statistics, RNG streams) is
  the starting point of every trial, whatever the trial's key (paired comparisons, or
  fine-tuning from trained weights).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

import jax
from flax import nnx

__all__ = ["CARRIED", "NNXModel", "as_nnx_model", "is_nnx", "takes_rngs"]

#: Variable types carried through training (updated by the forward pass, not trained).
CARRIED: tuple[type, ...] = (nnx.BatchStat, nnx.RngState)

_TRAIN = {"deterministic": False, "use_running_average": False}
_EVAL = {"deterministic": True, "use_running_average": True}


def is_nnx(model: Any) -> bool:
    """Whether ``model`` is an ``nnx.Module`` instance or subclass.

    Examples:
        >>> is_nnx(nnx.Linear), is_nnx(nnx.Linear(2, 3, rngs=nnx.Rngs(0))), is_nnx(print)
        (True, True, False)
    """
    return isinstance(model, nnx.Module) or (
        isinstance(model, type) and issubclass(model, nnx.Module)
    )


def _here(state: Any) -> Any:
    """The same state with its variables rebuilt at the current trace level.

    A state that entered from an outer trace (a non-differentiated argument of
    ``jax.grad``, say) holds variables that NNX refuses to mutate inside the inner trace;
    flattening and unflattening makes fresh ones.
    """
    return jax.tree_util.tree_map(lambda leaf: leaf, state)


def _not_rngs(path: Any, node: Any) -> bool:
    # nnx.view asks every node for ``set_view``; an ``nnx.Rngs`` answers any attribute
    # with a stream, and calling it draws a key (from an abstract one: a TypeError).
    return not isinstance(node, nnx.Rngs)


def _view(module: nnx.Module, modes: dict[str, bool]) -> nnx.Module:
    return nnx.view(module, only=_not_rngs, raise_if_not_found=False, **modes)


def takes_rngs(module: Any) -> bool:
    """Whether the module's ``__call__`` has a parameter named ``rngs``.

    Examples:
        >>> class Net(nnx.Module):
        ...     def __call__(self, x, rngs: nnx.Rngs):
        ...         return x
        >>> takes_rngs(Net()), takes_rngs(nnx.Linear(2, 3, rngs=nnx.Rngs(0)))
        (True, False)
    """
    try:
        return "rngs" in inspect.signature(type(module).__call__).parameters
    except (AttributeError, TypeError, ValueError):
        return False


def _call_rngs(key: jax.Array) -> nnx.State:
    return nnx.state(nnx.Rngs(key))


def _split(module: nnx.Module) -> tuple[nnx.GraphDef, nnx.State, nnx.State, nnx.State]:
    return nnx.split(module, nnx.Param, CARRIED, ...)


def _check_supported(rest: nnx.State, label: str) -> None:
    flat = nnx.to_flat_state(rest)
    if len(flat):
        path, variable = next(iter(flat))
        raise TypeError(
            f"NNX model {label}: variable {'.'.join(map(str, path))} of type "
            f"{type(variable).__name__} is not supported; jaxtune trains nnx.Param and "
            "carries nnx.BatchStat and nnx.RngState (see jaxtune.train.nnx)"
        )


@dataclasses.dataclass(frozen=True, eq=False)
class NNXModel:
    """An NNX module as a trainer model (see the module docstring).

    ``init`` and ``apply`` follow :class:`jaxtune.models.Model` for a module that holds
    only parameters; the trainer uses :meth:`init_with_state`, :meth:`apply_train` and
    :meth:`apply_eval`, which carry batch statistics and RNG streams too. Build it
    with :func:`as_nnx_model`.

    Examples:
        >>> import functools, jax, jax.numpy as jnp
        >>> class Net(nnx.Module):
        ...     def __init__(self, *, rngs):
        ...         self.lin = nnx.Linear(4, 3, use_bias=False, rngs=rngs)
        ...         self.norm = nnx.BatchNorm(3, rngs=rngs)
        ...
        ...     def __call__(self, x):
        ...         return self.norm(self.lin(x))
        >>> model = as_nnx_model(Net)
        >>> x = jax.random.normal(jax.random.key(1), (8, 4))
        >>> params, model_state = model.init_with_state(jax.random.key(0), x)
        >>> out, model_state = model.apply_train(params, model_state, x)
        >>> bool(jnp.abs(model_state["norm"]["mean"][...]).max() > 0)  # updated
        True
        >>> model.apply_eval(params, model_state, x).shape
        (8, 3)

    Attributes:
        train_def: the graph definition in train mode (static).
        eval_def: the graph definition in eval mode (static).
        factory: ``f(rngs=...) -> nnx.Module``, or None for an instance.
        initial: ``(params, model_state)`` of an instance, else None.
        label: a name for messages.
    """

    train_def: nnx.GraphDef
    eval_def: nnx.GraphDef
    factory: Callable[..., nnx.Module] | None
    initial: tuple[nnx.State, nnx.State] | None
    label: str
    stateful: bool
    call_rngs: nnx.GraphDef | None = None  # of the nnx.Rngs passed to ``__call__``

    def init_with_state(self, key: jax.Array, x: jax.Array, **arch: Any) -> tuple[Any, Any]:
        """``(params, model_state)`` of a fresh trial (``x`` is not read).

        For a module whose ``__call__`` takes ``rngs``, the model state is
        ``{"module": ..., "rngs": ...}``: the module's carried state and the state of
        the ``nnx.Rngs(key)`` it is called with.
        """
        del x, arch
        if self.factory is None:
            params, carried = self.initial
        else:
            _, params, carried, rest = _split(self.factory(rngs=nnx.Rngs(key)))
            _check_supported(rest, self.label)
        if self.call_rngs is None:
            return params, carried
        return params, {"module": carried, "rngs": _call_rngs(key)}

    def _merge(self, graphdef: nnx.GraphDef, params: Any, model_state: Any) -> tuple[Any, Any]:
        """The module and the keyword arguments of its call (``rngs``, if it takes them)."""
        if self.call_rngs is None:
            return nnx.merge(graphdef, params, _here(model_state)), {}
        module = nnx.merge(graphdef, params, _here(model_state["module"]))
        return module, {"rngs": nnx.merge(self.call_rngs, _here(model_state["rngs"]))}

    def apply_train(
        self, params: Any, model_state: Any, x: jax.Array, **arch: Any
    ) -> tuple[Any, Any]:
        """Outputs in train mode and the model state after the forward pass."""
        module, call = self._merge(self.train_def, params, model_state)
        out = module(x, **call, **arch)
        carried = nnx.state(module, CARRIED)
        if self.call_rngs is None:
            return out, carried
        return out, {"module": carried, "rngs": nnx.state(call["rngs"])}

    def apply_eval(self, params: Any, model_state: Any, x: jax.Array, **arch: Any) -> Any:
        """Outputs in eval mode (no dropout, running batch statistics)."""
        module, call = self._merge(self.eval_def, params, model_state)
        return module(x, **call, **arch)

    def init(self, key: jax.Array, x: jax.Array, **arch: Any) -> Any:
        """The parameters of a fresh trial (linen-style; see :meth:`init_with_state`)."""
        return self.init_with_state(key, x, **arch)[0]

    def apply(self, params: Any, x: jax.Array, **arch: Any) -> Any:
        """Outputs in eval mode, for a module that holds parameters only."""
        if self.stateful:
            raise TypeError(
                f"NNX model {self.label} carries batch statistics or RNG streams: use "
                "apply_eval(params, model_state, x) or apply_train(...)"
            )
        empty = nnx.state(nnx.merge(self.eval_def, params), CARRIED)
        return self.apply_eval(params, empty, x, **arch)


def as_nnx_model(model: Any) -> NNXModel:
    """An :class:`NNXModel` from an NNX class, a factory ``f(rngs)`` or an instance.

    Args:
        model: an ``nnx.Module`` subclass whose constructor takes ``rngs`` (keyword);
            a callable ``f(rngs=nnx.Rngs(key)) -> nnx.Module`` (e.g.
            ``functools.partial(Net, 64, 10)``); or an ``nnx.Module`` instance, whose
            current state starts every trial.

    Returns:
        The model. The factory is first run abstractly (``nnx.eval_shape``), so no
        parameter is computed here.

    Raises:
        TypeError: a factory that does not return an ``nnx.Module``, a class that cannot
            be built from ``rngs`` alone, or an unsupported variable type (named).

    Examples:
        >>> import functools, jax, jax.numpy as jnp
        >>> model = as_nnx_model(functools.partial(nnx.Linear, 4, 3))
        >>> params = model.init(jax.random.key(0), jnp.ones((2, 4)))
        >>> model.apply(params, jnp.ones((2, 4))).shape
        (2, 3)
    """
    label = getattr(model, "__name__", None) or type(model).__name__
    if isinstance(model, nnx.Module):
        train_def, eval_def, params, carried = _definitions(model, label)
        stateful = bool(len(nnx.to_flat_state(carried))) or takes_rngs(model)
        initial = (params, carried)
        return NNXModel(train_def, eval_def, None, initial, label, stateful, _rngs_def(model))
    if not callable(model):
        raise TypeError(f"an NNX model must be a module, a class or a factory, got {model!r}")
    try:
        abstract = nnx.eval_shape(lambda: model(rngs=nnx.Rngs(0)))
    except TypeError as e:
        if not isinstance(model, type):
            raise
        raise TypeError(
            f"NNX model class {label}: {label}(rngs=...) failed ({e}); pass "
            f"functools.partial({label}, ...) or a factory lambda rngs: {label}(..., rngs=rngs)"
        ) from None
    if not isinstance(abstract, nnx.Module):
        raise TypeError(
            f"the model factory {label} returned {type(abstract).__name__}, not an nnx.Module"
        )
    train_def, eval_def, _, carried = _definitions(abstract, label)
    stateful = bool(len(nnx.to_flat_state(carried))) or takes_rngs(abstract)
    return NNXModel(train_def, eval_def, model, None, label, stateful, _rngs_def(abstract))


def _rngs_def(module: nnx.Module) -> nnx.GraphDef | None:
    """The graph definition of the ``nnx.Rngs`` a module's ``__call__`` takes, or None."""
    if not takes_rngs(module):
        return None
    return nnx.graphdef(nnx.eval_shape(lambda: nnx.Rngs(0)))


def _definitions(module: nnx.Module, label: str) -> tuple[Any, Any, nnx.State, nnx.State]:
    """Train and eval graph definitions, parameters and carried state of a module."""
    train_def, params, carried, rest = _split(_view(module, _TRAIN))
    _check_supported(rest, label)
    eval_def = _split(_view(module, _EVAL))[0]
    return train_def, eval_def, params, carried
