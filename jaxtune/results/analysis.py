"""Which hyperparameters mattered, and the sweep as an Optuna study.

:func:`to_optuna` turns a finished sweep (:class:`jaxtune.results.Results`) into an
:class:`optuna.Study`: one trial per jaxtune trial, with Optuna distributions that follow
each dimension's scale, the final objective as the value, the per-epoch objective as
intermediate values and diverged trials in the ``FAIL`` state. Written to a SQLite URL,
the study opens in ``optuna-dashboard``. :func:`importance` runs Optuna's importance
evaluators (fANOVA, PED-ANOVA, mean decrease impurity) on that study; jaxtune does not
reimplement them.

Both need the ``importance`` extra: ``pip install "jaxtune[importance]"`` (Optuna; the
fANOVA and mean-decrease-impurity evaluators also use scikit-learn).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

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

if TYPE_CHECKING:
    import optuna

    from jaxtune.results.results import Results
    from jaxtune.store import TrialRecord

__all__ = ["EVALUATORS", "importance", "to_optuna"]

EVALUATORS = ("fanova", "ped_anova", "mean_decrease_impurity")
"""Names :func:`importance` accepts for ``evaluator``."""


def _need_optuna() -> Any:
    try:
        with warnings.catch_warnings():
            # optuna imports tqdm.auto, which warns in a Jupyter kernel without ipywidgets
            # ("IProgress not found"); jaxtune shows no optuna progress bar at all.
            warnings.filterwarnings("ignore", message="IProgress not found")
            import optuna
    except ImportError:
        raise ImportError(
            'jaxtune.analysis needs optuna: pip install "jaxtune[importance]"'
        ) from None
    return optuna


def _first_space(results: Results) -> Space:
    # Round 0 holds the widest space: every later (zoomed) round lies inside it, so its
    # distributions hold every trial's values.
    spec = results.rounds[0]["space"] if results.rounds else results.meta["space"]
    return Space.from_dict(spec)


def _distribution(dim: Dimension, optuna: Any) -> Any:
    """The Optuna distribution of one jaxtune dimension (same bounds, same scale)."""
    d = optuna.distributions
    if isinstance(dim, LogUniform):
        return d.FloatDistribution(dim.low, dim.high, log=True)
    if isinstance(dim, OneMinusLogUniform):
        # Optuna has no "1 - x on a log scale"; a linear range keeps the same bounds and
        # values (only Optuna's own samplers and plots would see a linear scale).
        return d.FloatDistribution(dim.low, dim.high)
    if isinstance(dim, Uniform):
        return d.FloatDistribution(dim.low, dim.high)
    if isinstance(dim, IntUniform):
        return d.IntDistribution(dim.low, dim.high, log=dim.log)
    if isinstance(dim, Choice):
        return d.CategoricalDistribution(dim.values)
    if isinstance(dim, Fixed):
        # A one-value categorical keeps the value in every trial's params (a best trial
        # from Optuna is a complete configuration); every importance evaluator scores it 0
        # and importance() leaves it out.
        return d.CategoricalDistribution([dim.value])
    raise TypeError(f"to_optuna: no Optuna distribution for {dim!r}")


def _param(name: str, dim: Dimension, value: Any) -> Any:
    """A stored value as Optuna's distribution of ``dim`` accepts it (or a clear error)."""
    if isinstance(dim, (Choice, Fixed)):
        options = dim.values if isinstance(dim, Choice) else (dim.value,)
        if dim.labels is not None:
            matches = [i for i, v in enumerate(options) if v == value]
        else:
            # Stored numbers went through float32 (0.1 comes back as 0.1, 0.123456789 as
            # 0.12345679): find the option with the same float32 (or int32) encoding.
            encoded = np.asarray(options, dim.dtype)
            matches = np.flatnonzero(encoded == np.asarray(value, dim.dtype)).tolist()
        ok = bool(matches)
        value = options[matches[0]] if ok else value
    elif isinstance(dim, IntUniform):
        ok = dim.low <= value <= dim.high
        value = int(value)
    else:
        # Samples are float32: a value at a bound may sit a rounding step outside the
        # float64 bound Optuna checks. Clip those; anything further out is a wrong space.
        low, high = float(dim.low), float(dim.high)
        ok = bool(np.float32(low) <= np.float32(value) <= np.float32(high))
        value = min(max(float(value), low), high)
    if not ok:
        raise ValueError(
            f"to_optuna: trial value {value!r} of {name!r} lies outside round 0's "
            f"dimension {dim!r}"
        )
    return value


def _frozen_trial(
    t: TrialRecord, space: Space, dists: dict[str, Any], objective: str, optuna: Any
) -> Any:
    params = {}
    for name, dim in space.items():
        if name in t.hparams:
            params[name] = _param(name, dim, t.hparams[name])
        elif isinstance(dim, Fixed):  # hand-made records may leave out what cannot vary
            params[name] = dim.value
        else:
            raise ValueError(f"to_optuna: trial {t.trial} has no value of {name!r}")
    value = t.final.get(objective)
    complete = t.status == "ok" and value is not None
    curve = t.curves.get(objective) or []
    attrs: dict[str, Any] = {k: v for k, v in t.final.items() if k != objective}
    attrs.update(
        jaxtune_trial=t.trial,
        jaxtune_round=t.round,
        jaxtune_group=t.group,
        jaxtune_status=t.status,
        jaxtune_diverged_epoch=t.diverged_epoch,
        wall_time=t.wall_time,
    )
    return optuna.trial.create_trial(
        state=optuna.trial.TrialState.COMPLETE if complete else optuna.trial.TrialState.FAIL,
        value=float(value) if complete else None,
        params=params,
        distributions=dists,
        user_attrs=attrs,
        # Steps are 1-based epochs, like jaxtune's best_epoch; epochs not run are None.
        intermediate_values={
            epoch: float(v) for epoch, v in enumerate(curve, start=1) if v is not None
        },
    )


def to_optuna(
    results: Results, storage_url: str | None = None, study_name: str | None = None
) -> optuna.Study:
    """The sweep as an Optuna study, e.g. for ``optuna-dashboard`` or Optuna's plots.

    Each jaxtune trial becomes one Optuna trial, in trial-id order:

    - params: its hyperparameters (strings restored), Fixed dimensions included as
      one-value categoricals, so a trial's params are a complete configuration;
    - distributions from round 0's space (the widest; zoomed rounds lie inside it):
      LogUniform is a log ``FloatDistribution``, Uniform a linear one, IntUniform an
      ``IntDistribution`` (``log`` kept), Choice a ``CategoricalDistribution``.
      OneMinusLogUniform becomes a *linear* ``FloatDistribution`` with the same bounds:
      Optuna has no ``1 - x`` log scale, so its plots show momentum linearly;
    - value: the final objective, direction from the sweep (maximize for accuracy);
    - intermediate values: the objective's per-epoch curve, step = 1-based epoch
      (built-in tasks only; a user function reports no curve);
    - user attributes: the other final metrics, ``jaxtune_trial`` (the id),
      ``jaxtune_round``, ``jaxtune_group``, ``jaxtune_status``,
      ``jaxtune_diverged_epoch`` and ``wall_time``;
    - state ``FAIL`` for a diverged trial (kept, never ranked), ``COMPLETE`` otherwise.

    The study's metric name is the objective and its user attributes hold the sweep's
    folder (``jaxtune_path``) and objective. Ties of the objective may be broken
    differently from :meth:`Results.best <jaxtune.results.Results.best>`, which prefers
    the lower ``val_loss``.

    Args:
        results: a finished (or partly finished) sweep.
        storage_url: an Optuna storage URL, e.g. ``"sqlite:///runs/digits/optuna.db"``;
            None keeps the study in memory. Optuna writes one trial at a time: about
            15 ms per trial into SQLite (15 s for 1024 trials); in memory it is instant.
        study_name: the study's name; default: the sweep folder's name. A storage that
            already holds a study of that name raises ``optuna.exceptions.
            DuplicatedStudyError``: pick another name or delete the old study.

    Returns:
        The :class:`optuna.Study`.

    Raises:
        ImportError: optuna is not installed.
        ValueError: a stored value lies outside round 0's space (a damaged store).

    Example:
        >>> from jaxtune.results import Results
        >>> from jaxtune.store import TrialRecord
        >>> space = Space(lr=LogUniform(1e-4, 1.0), opt=Choice(["sgd", "adam"]))
        >>> trials = [
        ...     TrialRecord(0, 0, "", {"lr": 0.1, "opt": "sgd"}, "ok", 0, {"val_loss": 0.4}),
        ...     TrialRecord(1, 0, "", {"lr": 1.0, "opt": "adam"}, "diverged", 2, {}),
        ... ]
        >>> results = Results(tuple(trials), {"space": space.to_dict()}, (), "runs/demo")
        >>> study = to_optuna(results)
        >>> study.study_name, study.best_params, study.best_value
        ('demo', {'lr': 0.1, 'opt': 'sgd'}, 0.4)
        >>> [t.state.name for t in study.trials]
        ['COMPLETE', 'FAIL']
    """
    optuna = _need_optuna()
    space = _first_space(results)
    dists = {name: _distribution(dim, optuna) for name, dim in space.items()}
    # Build (and validate) every trial before the study exists: a bad value must not leave
    # a half-filled study behind in a database.
    frozen = [
        _frozen_trial(t, space, dists, results.objective, optuna)
        for t in sorted(results.trials, key=lambda t: t.trial)
    ]
    if study_name is None:
        study_name = os.path.basename(os.path.normpath(results.path)) or None
    verbosity = optuna.logging.get_verbosity()
    # Optuna logs an INFO line per created study and per added trial.
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(
            storage=storage_url,
            study_name=study_name,
            direction="maximize" if results.maximize else "minimize",
        )
        with warnings.catch_warnings():
            # set_metric_names is marked experimental (ExperimentalWarning) since Optuna
            # 3.2; it only labels the value, which the dashboard then shows by name.
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([results.objective])
        study.set_user_attr("jaxtune_path", str(results.path))
        study.set_user_attr("jaxtune_objective", results.objective)
        study.add_trials(frozen)
    finally:
        optuna.logging.set_verbosity(verbosity)
    return study


def _evaluator(evaluator: Any, seed: int, optuna: Any) -> Any:
    imp = optuna.importance
    if isinstance(evaluator, imp.BaseImportanceEvaluator):
        return evaluator
    if evaluator == "ped_anova":
        return imp.PedAnovaImportanceEvaluator()  # deterministic: no seed
    makers = {
        "fanova": imp.FanovaImportanceEvaluator,
        "mean_decrease_impurity": imp.MeanDecreaseImpurityImportanceEvaluator,
    }
    if evaluator not in makers:
        raise ValueError(
            f"evaluator must be one of {list(EVALUATORS)} or an Optuna importance "
            f"evaluator, got {evaluator!r}"
        )
    try:
        return makers[evaluator](seed=seed)
    except ImportError as error:  # their random forests come from scikit-learn
        raise ImportError(
            f'evaluator="{evaluator}" needs scikit-learn: pip install "jaxtune[importance]" '
            '(or use evaluator="ped_anova", which does not)'
        ) from error


def importance(
    results: Results,
    *,
    evaluator: str | Any = "fanova",
    params: Sequence[str] | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """How much each searched hyperparameter mattered to the objective, summing to 1.

    Computed by Optuna on the study of :func:`to_optuna`, from the non-diverged trials
    only (diverged ones are ``FAIL`` there). Fixed dimensions are left out: nothing was
    searched. The evaluators:

    - ``"fanova"``: a random forest predicts the objective; its variance is split into
      each hyperparameter's share (Hutter et al., 2014). Needs scikit-learn. Optuna
      integrates over each dimension's *raw* range, so a log-scale dimension is weighted
      linearly (its top decade dominates); the sign of the objective plays no role.
      Pure Python, about quadratic in the trials: on 2 CPU cores about 0.5 s for 128
      trials, 5 s for 512, 16 s for 1024. For big sweeps pass
      ``optuna.importance.FanovaImportanceEvaluator(max_depth=8)`` (about 3x faster at
      512 trials) or use PED-ANOVA.
    - ``"ped_anova"``: how differently each hyperparameter is distributed among the best
      10% of trials than among all of them (Watanabe et al., 2023), on a log grid for
      log dimensions; it follows the study's direction, so a maximized accuracy is
      handled. Fast, no scikit-learn; noisy with few trials (the top 10% should hold at
      least 5 trials, i.e. 50 or more trials in all).
    - ``"mean_decrease_impurity"``: the random forest's own feature importances.

    Args:
        results: a sweep with at least two non-diverged trials.
        evaluator: one of :data:`EVALUATORS`, or an ``optuna.importance`` evaluator
            instance (then ``seed`` is unused).
        params: the hyperparameters to score (default: every non-Fixed dimension).
        seed: seed of the random forest (fANOVA and mean decrease impurity).

    Returns:
        ``{name: importance}``, largest first; the values sum to 1 (equal shares when
        the evaluator finds no effect at all).

    Raises:
        ImportError: optuna (or, for the forests, scikit-learn) is not installed.
        ValueError: an unknown evaluator or parameter, fewer than two usable trials, or
            the same objective value in every trial.

    Example:
        >>> from jaxtune.results import Results
        >>> from jaxtune.store import TrialRecord
        >>> rng = np.random.default_rng(0)
        >>> lr, wd = 10.0 ** rng.uniform(-4, 0, (2, 40))
        >>> loss = (np.log10(lr) + 2.0) ** 2  # only the learning rate matters
        >>> trials = [
        ...     TrialRecord(i, 0, "", {"lr": a, "wd": b}, "ok", 0, {"val_loss": v})
        ...     for i, (a, b, v) in enumerate(zip(lr.tolist(), wd.tolist(), loss.tolist()))
        ... ]
        >>> space = Space(lr=LogUniform(1e-4, 1), wd=LogUniform(1e-4, 1), bs=Fixed(64))
        >>> results = Results(tuple(trials), {"space": space.to_dict()}, (), "demo")
        >>> imp = importance(results)
        >>> list(imp), imp["lr"] > 0.9, round(sum(imp.values()), 6)
        (['lr', 'wd'], True, 1.0)
    """
    optuna = _need_optuna()
    space = _first_space(results)
    searched = [name for name, dim in space.items() if not isinstance(dim, Fixed)]
    if params is None:
        params = searched
    else:
        if isinstance(params, str):
            raise TypeError(f"params must be a list of names, got the string {params!r}")
        unknown = [p for p in params if p not in searched]
        if unknown:
            raise ValueError(
                f"importance: {unknown} are not searched hyperparameters; the sweep "
                f"searched {searched}"
            )
    params = list(dict.fromkeys(params))
    if not params:
        raise ValueError("importance: no hyperparameter to score (every dimension is Fixed)")
    values = [
        t.final[results.objective]
        for t in results.ok()
        if t.final.get(results.objective) is not None
    ]
    if len(values) < 2:
        raise ValueError(
            f"importance: needs at least 2 non-diverged trials with {results.objective!r}, "
            f"got {len(values)}"
        )
    if max(values) == min(values):
        # fANOVA would raise a bare "zero total variance"; the others return equal shares.
        raise ValueError(
            f"importance: every trial has {results.objective}={values[0]}: nothing to explain"
        )
    chosen = _evaluator(evaluator, seed, optuna)
    study = to_optuna(results)
    scores = optuna.importance.get_param_importances(study, evaluator=chosen, params=params)
    # Plain floats (Optuna returns numpy scalars), largest first.
    return dict(sorted(((k, float(v)) for k, v in scores.items()), key=lambda kv: -kv[1]))
