"""Which hyperparameters mattered, and the sweep as an Optuna study.

:func:`to_optuna` (:mod:`jaxtune.results.study`) turns a finished sweep
(:class:`jaxtune.results.Results`) into an :class:`optuna.Study`: one trial per jaxtune
trial, with Optuna distributions that follow each dimension's scale, the final objective
as the value, the per-epoch objective as intermediate values and diverged trials in the
``FAIL`` state. Written to a SQLite URL, the study opens in ``optuna-dashboard``.
:func:`importance` runs Optuna's importance evaluators (fANOVA, PED-ANOVA, mean decrease
impurity) on that study; jaxtune does not reimplement them.

Both need the ``importance`` extra: ``pip install "jaxtune[importance]"`` (Optuna; the
fANOVA and mean-decrease-impurity evaluators also use scikit-learn).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from jaxtune.results.study import first_space, need_optuna, to_optuna
from jaxtune.space import Fixed

if TYPE_CHECKING:
    from jaxtune.results.results import Results

__all__ = ["EVALUATORS", "importance", "to_optuna"]

EVALUATORS = ("fanova", "ped_anova", "mean_decrease_impurity")
"""Names :func:`importance` accepts for ``evaluator``."""


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

    Examples:
        >>> import numpy as np
        >>> from jaxtune.results import Results
        >>> from jaxtune.space import LogUniform, Space
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
    optuna = need_optuna()
    space = first_space(results)
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
