"""The sweep as an Optuna study: :func:`to_optuna` (re-exported by ``jaxtune.analysis``).

One Optuna trial per jaxtune trial, with Optuna distributions that follow each
dimension's scale, the final objective as the value, the per-epoch objective as
intermediate values, diverged trials in the ``FAIL`` state and each trial's start and end
times. Written to a SQLite URL, the study opens in ``optuna-dashboard``. Needs the
``importance`` extra: ``pip install "jaxtune[importance]"``.
"""

from __future__ import annotations

import datetime
import os
import warnings
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


def need_optuna() -> Any:
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


def first_space(results: Results) -> Space:
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
    t: TrialRecord,
    space: Space,
    dists: dict[str, Any],
    objective: str,
    optuna: Any,
    finished_at: float | None = None,
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
    frozen = optuna.trial.create_trial(
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
    if finished_at is not None:
        # The store keeps when a trial was written and its share of its chunk's time.
        end = datetime.datetime.fromtimestamp(finished_at)
        frozen.datetime_start = end - datetime.timedelta(seconds=max(t.wall_time, 0.0))
        frozen.datetime_complete = end
    return frozen


def to_optuna(
    results: Results,
    storage_url: str | None = None,
    study_name: str | None = None,
    *,
    load_if_exists: bool = False,
    overwrite: bool = False,
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
    - ``datetime_complete``: when the store wrote the trial; ``datetime_start``: that
      minus its ``wall_time`` (its share of its chunk's time: trials of a chunk run
      together, so this is an estimate);
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
        study_name: the study's name; default: the sweep folder's name.
        load_if_exists: when the storage already holds a study of that name, add to it
            the trials it lacks (by ``jaxtune_trial``): a sweep still running can be
            exported again.
        overwrite: when the storage already holds a study of that name, delete it and
            export afresh. Without either flag an existing name raises
            ``optuna.exceptions.DuplicatedStudyError``.

    Returns:
        The :class:`optuna.Study`.

    Raises:
        ImportError: optuna is not installed.
        ValueError: a stored value lies outside round 0's space (a damaged store), or
            both ``load_if_exists`` and ``overwrite``.
        optuna.exceptions.DuplicatedStudyError: the study exists and neither flag is set.

    Examples:
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
    optuna = need_optuna()
    if load_if_exists and overwrite:
        raise ValueError("to_optuna: pass load_if_exists=True or overwrite=True, not both")
    space = first_space(results)
    dists = {name: _distribution(dim, optuna) for name, dim in space.items()}
    # Build (and validate) every trial before the study exists: a bad value must not leave
    # a half-filled study behind in a database.
    finished = getattr(results, "finished_at", {})
    frozen = [
        _frozen_trial(t, space, dists, results.objective, optuna, finished.get(t.trial))
        for t in sorted(results.trials, key=lambda t: t.trial)
    ]
    if study_name is None:
        study_name = os.path.basename(os.path.normpath(results.path)) or None
    verbosity = optuna.logging.get_verbosity()
    # Optuna logs an INFO line per created study and per added trial.
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = _create_study(optuna, results, storage_url, study_name, load_if_exists, overwrite)
        have = {t.user_attrs.get("jaxtune_trial") for t in study.get_trials(deepcopy=False)}
        study.add_trials([t for t in frozen if t.user_attrs["jaxtune_trial"] not in have])
    finally:
        optuna.logging.set_verbosity(verbosity)
    return study


def _create_study(
    optuna: Any,
    results: Results,
    storage_url: str | None,
    study_name: str | None,
    load_if_exists: bool,
    overwrite: bool,
) -> Any:
    direction = "maximize" if results.maximize else "minimize"
    exists = storage_url is not None and study_name is not None
    if exists:
        names = optuna.study.get_all_study_names(storage=storage_url)
        exists = study_name in names
    if exists and overwrite:
        optuna.delete_study(study_name=study_name, storage=storage_url)
    elif exists and not load_if_exists:
        raise optuna.exceptions.DuplicatedStudyError(
            f"to_optuna: {storage_url} already holds a study named {study_name!r}; pass "
            "load_if_exists=True (add the trials it lacks), overwrite=True (replace it) "
            "or another study_name"
        )
    elif exists:
        study = optuna.load_study(study_name=study_name, storage=storage_url)
        if study.direction.name.lower() != direction:
            raise ValueError(
                f"to_optuna: study {study_name!r} is to {study.direction.name.lower()}, "
                f"this sweep's {results.objective} to {direction}"
            )
        return study
    study = optuna.create_study(storage=storage_url, study_name=study_name, direction=direction)
    with warnings.catch_warnings():
        # set_metric_names is marked experimental (ExperimentalWarning) since Optuna
        # 3.2; it only labels the value, which the dashboard then shows by name.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names([results.objective])
    study.set_user_attr("jaxtune_path", str(results.path))
    study.set_user_attr("jaxtune_objective", results.objective)
    return study
