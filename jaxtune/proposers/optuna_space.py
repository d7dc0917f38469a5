"""A jaxtune space in Optuna's terms: distributions, values back, samplers by name.

Scales (a jaxtune dimension becomes an Optuna distribution on the same scale):

- :class:`~jaxtune.LogUniform` -> ``FloatDistribution(low, high, log=True)``;
- :class:`~jaxtune.Uniform` -> ``FloatDistribution(low, high)``;
- :class:`~jaxtune.IntUniform` -> ``IntDistribution(low, high, log=log)``;
- :class:`~jaxtune.Choice` -> ``CategoricalDistribution(values)``;
- :class:`~jaxtune.OneMinusLogUniform` ``x`` -> a parameter named ``one_minus_<name>``,
  ``FloatDistribution(1 - high, 1 - low, log=True)`` over ``1 - x``;
- :class:`~jaxtune.Fixed` -> left out of the study.

Needs ``pip install "jaxtune[samplers]"`` (Optuna, and ``cmaes`` for CMA-ES).
"""

from __future__ import annotations

import contextlib
import importlib.util
import warnings
from collections.abc import Iterator
from typing import Any

from jaxtune.space import (
    Choice,
    Dimension,
    Fixed,
    IntUniform,
    LogUniform,
    OneMinusLogUniform,
    Space,
    Uniform,
)

__all__ = [
    "SAMPLERS",
    "distribution",
    "distributions",
    "make_sampler",
    "optuna_module",
    "param_value",
    "quiet",
]

#: The samplers named by a string (any ``optuna.samplers.BaseSampler`` works too).
SAMPLERS = ("tpe", "cmaes", "gp", "random")


def optuna_module() -> Any:
    try:
        with warnings.catch_warnings():
            # optuna imports tqdm.auto, which warns in a Jupyter kernel without ipywidgets
            # ("IProgress not found"); OptunaRounds shows no optuna progress bar at all.
            warnings.filterwarnings("ignore", message="IProgress not found")
            import optuna
    except ImportError as error:
        raise ImportError(
            'model-based samplers need Optuna: pip install "jaxtune[samplers]"'
        ) from error
    return optuna


def distribution(name: str, dim: Dimension, optuna: Any) -> tuple[str, Any] | None:
    d = optuna.distributions
    if isinstance(dim, LogUniform):
        return name, d.FloatDistribution(dim.low, dim.high, log=True)
    if isinstance(dim, OneMinusLogUniform):
        return f"one_minus_{name}", d.FloatDistribution(1 - dim.high, 1 - dim.low, log=True)
    if isinstance(dim, Uniform):
        return name, d.FloatDistribution(dim.low, dim.high)
    if isinstance(dim, IntUniform):
        return name, d.IntDistribution(dim.low, dim.high, log=dim.log)
    if isinstance(dim, Choice):
        return name, d.CategoricalDistribution(dim.values)
    if isinstance(dim, Fixed):
        return None
    raise TypeError(f"no Optuna distribution for {name}={dim!r}")


def distributions(space: Space) -> dict[str, Any]:
    """The Optuna distributions of a space, by Optuna parameter name (Fixed left out).

    Examples:
        >>> import jaxtune
        >>> space = jaxtune.Space(
        ...     learning_rate=jaxtune.LogUniform(1e-4, 1.0),
        ...     momentum=jaxtune.OneMinusLogUniform(0.5, 0.99),
        ...     eps=1e-8,
        ... )
        >>> {k: (v.low, v.high, v.log) for k, v in distributions(space).items()}
        {'learning_rate': (0.0001, 1.0, True), 'one_minus_momentum': (0.01..., 0.5, True)}
    """
    optuna = optuna_module()
    pairs = (distribution(name, dim, optuna) for name, dim in space.items())
    return dict(p for p in pairs if p is not None)


@contextlib.contextmanager
def quiet(optuna: Any) -> Iterator[None]:
    """No INFO line per created study or finished trial."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(verbosity)


def param_value(dim: Dimension, param: Any) -> Any:
    """An Optuna parameter back to the dimension's plain value (within its bounds)."""
    if isinstance(dim, OneMinusLogUniform):
        return min(max(1.0 - float(param), dim.low), dim.high)
    return param


def make_sampler(sampler: Any, seed: int, popsize: int | None, optuna: Any) -> Any:
    s = optuna.samplers
    if isinstance(sampler, s.BaseSampler):
        return sampler
    with warnings.catch_warnings():
        # Arguments Optuna still labels experimental; their behaviour is what we want.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if sampler == "tpe":
            return s.TPESampler(seed=seed, multivariate=True, constant_liar=True)
        if sampler == "random":
            return s.RandomSampler(seed=seed)
        if sampler == "cmaes":
            if importlib.util.find_spec("cmaes") is None:
                raise ImportError('sampler="cmaes" needs cmaes: pip install "jaxtune[samplers]"')
            return s.CmaEsSampler(
                seed=seed,
                popsize=popsize,
                with_margin=True,  # integer dimensions (CMA-ES with margin)
                independent_sampler=s.RandomSampler(seed=seed),  # for Choice dimensions
                warn_independent_sampling=False,
            )
        if sampler == "gp":
            if importlib.util.find_spec("torch") is None:
                raise ImportError("sampler='gp' needs PyTorch: pip install torch")
            return s.GPSampler(seed=seed, independent_sampler=s.RandomSampler(seed=seed))
    raise ValueError(
        f"sampler must be one of {list(SAMPLERS)} or an optuna sampler, got {sampler!r}"
    )
