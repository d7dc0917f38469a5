"""Any optax optimizer, with every numeric argument a trial names traced per trial.

Besides the six built-in families (:data:`jaxtune.optimizers.FAMILIES`), the trainer takes

- the name of an optax optimizer: ``"lion"``, ``"adabelief"``, ``"lamb"``, ``"sm3"``,
  ``"adafactor"``, ``"novograd"``, ... (``getattr(optax, name)``, a function annotated to
  return an ``optax.GradientTransformation`` and taking a ``learning_rate``);
- any callable returning an ``optax.GradientTransformation``: ``optax.lion`` itself, or
  a user's ``def opt(learning_rate, b1, weight_decay): return optax.chain(...)``;
- an import path ``"package.module:factory"`` of such a callable.

:class:`AnyOptimizer` wraps the factory. A trial's hyperparameter names *are* the
factory's argument names (``b1``, ``b2``, ``weight_decay`` for lion). Every numeric
argument the trial names is passed through ``optax.inject_hyperparams`` (so it lives in
the optimizer state as a number, may be a traced array, and one compiled program serves
every value); the arguments the trial leaves out keep the factory's defaults and are
never seen by ``inject_hyperparams`` (non-numeric defaults such as a dtype or a mask
stay as they are). ``learning_rate`` is always held in the state (the trial's value,
else the table's default 0.01), so :func:`jaxtune.set_hyperparams` and
:func:`jaxtune.optimizers.learning_rate_at` work as for the built-in families.

A numeric argument is one whose default is an ``int`` or ``float`` (not ``bool``), whose
annotation is ``int``/``float`` or a union holding one of them (optax's ``Numeric`` and
``ScalarOrSchedule``), or that has neither annotation nor default (a user's
``def opt(learning_rate, b1)``). The trainer's own traced and masked hyperparameters
(:data:`RESERVED`: ``decay_system``, ``decay_rate``, ``decay_base``, ``decay_k``,
``hidden``, ``layers``, ``epochs``) are never factory arguments: an optimizer argument of
the same name (adafactor's ``decay_rate``) keeps its default.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import optax

from jaxtune import hyperparams

__all__ = ["DECAY_HYPERPARAMS", "RESERVED", "AnyOptimizer", "numeric_arguments", "optax_optimizer"]

#: The traced hyperparameters of the trainer's decay systems.
DECAY_HYPERPARAMS: tuple[str, ...] = ("decay_system", "decay_rate", "decay_base", "decay_k")

#: Hyperparameter names the trainer reads itself: never passed to an optimizer factory.
RESERVED: tuple[str, ...] = (*DECAY_HYPERPARAMS, *hyperparams.MASKED)

_REQUIRED = inspect.Parameter.empty
_NUMBER_TYPES = (int, float)


def _signature(factory: Callable[..., Any]) -> inspect.Signature:
    try:
        return inspect.signature(factory, eval_str=True)
    except (NameError, TypeError, SyntaxError):  # annotations that do not evaluate
        return inspect.signature(factory)


def _numeric_annotation(annotation: Any) -> bool:
    if annotation in _NUMBER_TYPES:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(a in _NUMBER_TYPES for a in typing.get_args(annotation))
    return False


def numeric_arguments(factory: Callable[..., Any]) -> dict[str, Any]:
    """The numeric arguments of an optimizer factory and their defaults.

    Args:
        factory: a callable returning an ``optax.GradientTransformation``.

    Returns:
        ``{argument: default}`` in signature order; a required argument's default is
        ``inspect.Parameter.empty``.

    Examples:
        >>> import optax
        >>> sorted(numeric_arguments(optax.lion))
        ['b1', 'b2', 'learning_rate', 'weight_decay']
        >>> def opt(learning_rate, b1, nesterov=False):
        ...     return optax.sgd(learning_rate, b1, nesterov=nesterov)
        >>> list(numeric_arguments(opt))
        ['learning_rate', 'b1']
    """
    out = {}
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    for name, p in _signature(factory).parameters.items():
        if p.kind not in kinds or isinstance(p.default, bool):
            continue
        unannotated = p.annotation is inspect.Parameter.empty
        if (
            (isinstance(p.default, _NUMBER_TYPES))
            or _numeric_annotation(p.annotation)
            or (unannotated and p.default is _REQUIRED)
        ):
            out[name] = p.default
    return out


def optax_optimizer(name: str) -> Callable[..., optax.GradientTransformation]:
    """The optax optimizer factory called ``name``, e.g. ``"lion"``.

    Args:
        name: an attribute of the ``optax`` package: a function annotated to return an
            ``optax.GradientTransformation`` that takes a ``learning_rate``.

    Returns:
        The factory, e.g. ``optax.lion``.

    Raises:
        ValueError: naming ``name`` when optax has no such optimizer.

    Examples:
        >>> optax_optimizer("lion").__name__
        'lion'
        >>> optax_optimizer("nosuch")
        Traceback (most recent call last):
        ...
        ValueError: optimizer 'nosuch': optax has no optimizer of that name
    """
    factory = getattr(optax, name, None) if name.isidentifier() else None
    if factory is None or name.startswith("_"):
        raise ValueError(f"optimizer {name!r}: optax has no optimizer of that name")
    annotation = _signature(factory).return_annotation if inspect.isfunction(factory) else None
    if not (isinstance(annotation, type) and issubclass(annotation, optax.GradientTransformation)):
        raise ValueError(
            f"optimizer {name!r}: optax.{name} is not an optimizer "
            "(it does not return an optax.GradientTransformation)"
        )
    if "learning_rate" not in numeric_arguments(factory):
        raise ValueError(f"optimizer {name!r}: optax.{name} takes no learning_rate")
    return factory


@dataclasses.dataclass(frozen=True, eq=False)
class AnyOptimizer:
    """An optimizer factory whose numeric arguments are a trial's traced hyperparameters.

    Build it with :meth:`resolve`. Hashed by identity (the trainer is static).

    Attributes:
        factory: a callable returning an ``optax.GradientTransformation``.
        name: a label for messages (the optax name, or the factory's ``__name__``).
        arguments: its numeric arguments and their defaults (:func:`numeric_arguments`),
            without :data:`RESERVED` names.
    """

    factory: Callable[..., optax.GradientTransformation]
    name: str
    arguments: Mapping[str, Any]

    @classmethod
    def resolve(cls, optimizer: str | Callable[..., Any]) -> AnyOptimizer:
        """An :class:`AnyOptimizer` from an optax name, an import path or a callable.

        Args:
            optimizer: ``"lion"`` (an optax optimizer), ``"package.module:factory"`` or a
                callable returning an ``optax.GradientTransformation``.

        Raises:
            ValueError: an unknown name or import path, or a factory without a
                ``learning_rate`` argument.
            TypeError: something that is neither a string nor a callable.

        Examples:
            >>> import jax.numpy as jnp
            >>> lion = AnyOptimizer.resolve("lion")
            >>> lion.hyperparams
            ('b1', 'b2', 'learning_rate', 'weight_decay')
            >>> opt = lion.transformation({"learning_rate": 1e-3, "b1": 0.95})
            >>> sorted(opt.init(jnp.zeros(3)).hyperparams)
            ['b1', 'learning_rate']
        """
        if isinstance(optimizer, str):
            if ":" in optimizer:
                from jaxtune.train.importpath import load_object

                factory = load_object(optimizer, where="optimizer")
                if not callable(factory):
                    raise ValueError(f"optimizer: {optimizer!r} is not callable")
                name = optimizer
            else:
                factory, name = optax_optimizer(optimizer), optimizer
        elif callable(optimizer) and not isinstance(optimizer, type):
            factory = optimizer
            name = getattr(optimizer, "__name__", None) or type(optimizer).__name__
        else:
            raise TypeError(
                "optimizer must be a family name, an optax optimizer name or a callable "
                f"returning an optax.GradientTransformation, got {optimizer!r}"
            )
        args = {k: v for k, v in numeric_arguments(factory).items() if k not in RESERVED}
        if "learning_rate" not in args:
            raise ValueError(
                f"optimizer {name!r} takes no learning_rate argument; jaxtune scales and "
                "records the learning rate, so the factory must take one"
            )
        return cls(factory, name, types.MappingProxyType(args))

    @property
    def hyperparams(self) -> tuple[str, ...]:
        """The names a trial may set, sorted."""
        return tuple(sorted(self.arguments))

    def check_names(self, names: Iterable[str], *, where: str = "") -> None:
        """``ValueError`` naming the first of ``names`` the factory does not take.

        ``names`` are optimizer hyperparameters only (the caller removes the trainer's).

        Examples:
            >>> AnyOptimizer.resolve("lion").check_names(["b1"])
            >>> AnyOptimizer.resolve("lion").check_names(["momentum"], where="space.")
            Traceback (most recent call last):
            ...
            ValueError: space.momentum: optimizer 'lion' takes no argument 'momentum'; \
it takes ['b1', 'b2', 'learning_rate', 'weight_decay']
        """
        unknown = sorted(set(names) - set(self.arguments))
        if unknown:
            raise ValueError(
                f"{where}{unknown[0]}: optimizer {self.name!r} takes no argument "
                f"{unknown[0]!r}; it takes {list(self.hyperparams)}"
            )

    def transformation(self, hparams: Mapping[str, Any]) -> optax.GradientTransformation:
        """``inject_hyperparams(factory)`` over the arguments ``hparams`` names.

        Args:
            hparams: a trial's numbers, possibly traced. Names that are not the
                factory's numeric arguments are ignored (the caller checks them).

        Returns:
            A transformation whose state holds ``learning_rate`` and every named
            argument as numbers.

        Raises:
            ValueError: a required argument of the factory that ``hparams`` leaves out
                (``learning_rate`` excepted: it defaults to 0.01).

        Examples:
            >>> import jax, jax.numpy as jnp
            >>> ada = AnyOptimizer.resolve("adabelief")
            >>> def first_update(b1):  # one program for every b1
            ...     opt = ada.transformation({"learning_rate": 0.1, "b1": b1})
            ...     return opt.update(jnp.ones(2), opt.init(jnp.zeros(2)))[0]
            >>> jax.vmap(first_update)(jnp.array([0.5, 0.9])).shape
            (2, 2)
        """
        traced = {k: hparams[k] for k in self.arguments if k in hparams}
        traced.setdefault("learning_rate", hyperparams.TABLE["learning_rate"].default)
        missing = [k for k, v in self.arguments.items() if v is _REQUIRED and k not in traced]
        if missing:
            raise ValueError(
                f"optimizer {self.name!r} has no default for {missing}: "
                "give every trial a value (add it to the space)"
            )
        return optax.inject_hyperparams(_only(self.factory, tuple(traced), self.name))(**traced)


def _only(
    factory: Callable[..., Any], names: tuple[str, ...], label: str
) -> Callable[..., optax.GradientTransformation]:
    """``factory`` seen by ``inject_hyperparams`` as taking only ``names`` (keywords).

    The other arguments keep the factory's defaults and are never turned into
    hyperparameters (integers, dtypes and masks stay what the factory expects).
    """

    def inner(**kwargs: Any) -> optax.GradientTransformation:
        out = factory(**kwargs)
        if not isinstance(out, optax.GradientTransformation):
            raise TypeError(
                f"optimizer {label!r} returned {type(out).__name__}, "
                "not an optax.GradientTransformation"
            )
        return out

    keyword = inspect.Parameter.KEYWORD_ONLY
    inner.__signature__ = inspect.Signature([inspect.Parameter(n, keyword) for n in names])
    inner.__name__ = inner.__qualname__ = label.replace(":", ".").replace(".", "_")
    return inner
