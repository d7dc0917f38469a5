"""Sweep(..., sampler="tpe"|"cmaes"|Optuna sampler): rounds of batched proposals.

The objective is a cheap user function with a known optimum (known_optimum.py), so
Optuna's own time dominates. The full Must-show (4 rounds of 64 against 256 random trials,
5 seeds) is benchmarks/bench_model_samplers.py; here a smaller version of it.
"""

import os
import signal

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cli_process import start_python
from known_optimum import SPACE, objective

import jaxtune
from jaxtune.store import Store
from jaxtune.sweep import FunctionTask
from jaxtune.sweep.model_rounds import STUDY_FILE
from jaxtune.sweep.optuna_rounds import OptunaRounds

optuna = pytest.importorskip("optuna")


def _sweep(tmp_path, sampler, seed, n=48, batch=12, **kw):
    name = sampler if isinstance(sampler, str) else type(sampler).__name__
    kw = {"chunk_size": None, "quiet": True, "store": str(tmp_path / f"{name}_{seed}"), **kw}
    return jaxtune.Sweep(SPACE, objective, n, sampler=sampler, batch=batch, seed=seed, **kw)


def _regret(results) -> float:
    return results.best(1)[0].final["true"]  # the true value of the trial the sweep picked


def test_tpe_and_cmaes_in_4_rounds_beat_random_search_with_as_many_trials(tmp_path):
    pytest.importorskip("cmaes")
    regrets = {
        s: np.median([_regret(_sweep(tmp_path, s, seed).run()) for seed in range(3)])
        for s in ("random", "tpe", "cmaes")
    }
    # 4 rounds of 12, seeds 0-2: random 1.91, TPE 0.68, CMA-ES 0.88 (medians of 12
    # seeds: 1.76, 0.44, 0.88). The 4 x 64 version: benchmarks/bench_model_samplers.py.
    assert regrets["tpe"] < regrets["random"] / 2, regrets
    assert regrets["cmaes"] < regrets["random"], regrets


def _agree(path: str, seed: int, n: int, space=SPACE) -> None:
    """Every trial once in the store; the study holds the same trials, told once, with
    the store's values, and each value is the jitted objective of the trial's own
    parameters and key."""
    store = Store.read(path)
    try:
        records = store.trials()
    finally:
        store.close()
    assert [r.trial for r in records] == list(range(n))
    study = OptunaRounds(space, "tpe", seed=seed, storage_path=os.path.join(path, STUDY_FILE))
    trials = study.study.trials
    assert [t.number for t in trials] == list(range(n))
    assert {t.state.name for t in trials} == {"COMPLETE"}
    jitted = jax.jit(objective)
    base = jax.random.key(seed)
    for t, r in zip(trials, records, strict=True):
        assert t.value == r.final["val_loss"]
        hp = {k: np.float32(v) for k, v in r.hparams.items()}
        hp["hidden"] = np.int32(r.hparams["hidden"])
        np.testing.assert_allclose(1 - t.params["one_minus_momentum"], hp["momentum"], rtol=1e-6)
        assert (t.params["hidden"], t.params["learning_rate"]) == (
            r.hparams["hidden"],
            pytest.approx(r.hparams["learning_rate"], rel=1e-6),
        )
        again = jitted(hp, jax.random.fold_in(base, t.number))
        np.testing.assert_allclose(float(again["val_loss"]), t.value, rtol=1e-5, atol=1e-6)


WORKER = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from known_optimum import SPACE, objective
import optuna
import jaxtune
from jaxtune.sweep.optuna_rounds import OptunaRounds

store, method, nth = sys.argv[1], sys.argv[2], int(sys.argv[3])
owner = optuna.storages.JournalStorage if method == "set_trial_param" else OptunaRounds
calls = []
original = getattr(owner, method)

def dies(self, *args, **kwargs):  # SIGKILL at the nth call, before it does anything
    calls.append(1)
    if len(calls) == nth:
        os.kill(os.getpid(), signal.SIGKILL)
    return original(self, *args, **kwargs)

setattr(owner, method, dies)
jaxtune.Sweep(SPACE, objective, 24, sampler="tpe", batch=8, seed=3, store=store,
              quiet=True, chunk_size=4).run()
"""


@pytest.mark.slow
def test_sigkill_between_rounds_and_mid_round_then_resume_runs_every_trial_once(tmp_path):
    worker = tmp_path / "worker.py"
    worker.write_text(WORKER.format(tests=os.path.dirname(os.path.abspath(__file__))))
    path = str(tmp_path / "run")
    # 1: killed between rounds, as it asks for round 1: round 0 (trials 0-7) stored and
    #    told; trial 8 asked, trial 9 cut short after 1 of its 3 parameters (the 29th).
    # 2: resumed, killed at its first tell: trials 8-11 of round 1 are in the store, not
    #    yet told; 12-15 asked, not trained. 3: resumed here, to the end.
    for method, nth in (("set_trial_param", 3 * 9 + 2), ("tell", 1)):
        proc = start_python(str(worker), path, method, str(nth))
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == -signal.SIGKILL, err[-2000:]
        if method == "set_trial_param":  # as Optuna itself reads the file
            backend = optuna.storages.journal.JournalFileBackend(os.path.join(path, STUDY_FILE))
            cut = optuna.load_study(
                study_name="jaxtune", storage=optuna.storages.JournalStorage(backend)
            )
            assert [len(t.params) for t in cut.trials] == [3] * 9 + [1]
    store = Store.read(path)
    assert store.finished_trials() == set(range(12))
    store.close()
    study = OptunaRounds(SPACE, "tpe", seed=3, storage_path=os.path.join(path, STUDY_FILE))
    assert [t.state.name for t in study.study.trials] == ["COMPLETE"] * 8 + ["RUNNING"] * 8
    jaxtune.Sweep(
        SPACE, objective, 24, sampler="tpe", batch=8, seed=3, store=path, quiet=True, chunk_size=4
    ).run()
    _agree(path, 3, 24)


class TwoPrograms(FunctionTask):
    """A task with a static dimension: one program per value of ``scale``."""

    def group_of(self, space, trial):
        return (("scale", trial["scale"]),)

    def trainer(self, space, group):
        scale = dict(group)["scale"]
        return self.__dict__.setdefault(scale, lambda hp, key: objective(hp, key) | {"s": scale})


def test_rounds_are_grouped_told_and_timed_and_a_grown_sweep_continues_the_study(tmp_path):
    space = jaxtune.Space(**SPACE, scale=jaxtune.Choice([1, 2]))
    task = TwoPrograms(lambda hp, key: objective(hp, key))
    kw = dict(sampler="tpe", batch=8, store=str(tmp_path / "s"), quiet=True, chunk_size=None)
    results = jaxtune.Sweep(space, task, 20, **kw).run()
    assert {t.group for t in results.trials} == {"scale=1", "scale=2"}
    for t in results.trials:  # each trial ran in its own group's program
        assert t.final["s"] == t.hparams["scale"] and t.group == f"scale={t.hparams['scale']}"
    times = results.meta["sampler_times"]
    assert [t["trials"] for t in times] == [8, 8, 4]
    assert all(t["ask_s"] > 0 and t["eval_s"] > 0 and t["tell_s"] > 0 for t in times)
    assert results.meta["batch"] == 8 and results.meta["sampler"] == "tpe"
    grown = jaxtune.Sweep(space, task, 28, **kw).run()  # one more round of 8
    assert len(grown.trials) == 28 and len(grown.meta["sampler_times"]) == 4
    # Each entry names its ask/tell round (it said round 0 for all), and the store's round.
    assert [t["round"] for t in times] == [0, 1, 2]
    assert [t["round"] for t in grown.meta["sampler_times"]] == [0, 1, 2, 3]
    assert [t["store_round"] for t in grown.meta["sampler_times"]] == [0, 0, 0, 1]
    _agree(str(tmp_path / "s"), 0, 28, space)


class Hours(optuna.samplers.RandomSampler):
    """A user's own Optuna sampler (any BaseSampler works)."""


def test_an_optuna_sampler_object_and_overwrite(tmp_path):
    sweep = _sweep(tmp_path, Hours(seed=1), 0, n=6, batch=4)
    assert len(sweep.run().trials) == 6
    assert sweep.sampler == "optuna:Hours"
    path = tmp_path / "Hours_0"
    with pytest.raises(ValueError, match="another sweep: its sampler is 'optuna:Hours'"):
        _sweep(tmp_path, "tpe", 0, n=6, store=str(path)).run()
    again = _sweep(tmp_path, Hours(seed=1), 0, n=6, batch=4, store=str(path), overwrite=True)
    assert len(again.run().trials) == 6  # the study went with the store: trials 0-5 again
    assert len(OptunaRounds(SPACE, Hours(), storage_path=str(path / STUDY_FILE)).told()) == 6


def test_a_study_file_of_another_sweep_is_refused(tmp_path):
    _sweep(tmp_path, "tpe", 0, n=4, batch=4).run()
    _sweep(tmp_path, "tpe", 1, n=4, batch=4).run()
    os.replace(tmp_path / "tpe_1" / STUDY_FILE, tmp_path / "tpe_0" / STUDY_FILE)
    with pytest.raises(ValueError, match=r"trial 0 finished unlike the store's"):
        _sweep(tmp_path, "tpe", 0, n=8, batch=4).run()
    os.remove(tmp_path / "tpe_0" / STUDY_FILE)
    with pytest.raises(ValueError, match="lacks trial 0 of the store"):
        _sweep(tmp_path, "tpe", 0, n=8, batch=4).run()


@pytest.mark.parametrize(
    ("kw", "named"),
    [
        (dict(sampler="bayes"), "sampler must be one of ['random', 'grid', 'quasi_random', 'tpe'"),
        (dict(sampler=5), "sampler must be one of"),
        (dict(sampler="tpe", batch=0), "batch must be an integer >= 1"),
        (dict(sampler="tpe", batch=True), "batch must be an integer >= 1"),
        (dict(sampler="cmaes", batch=2.0), "batch must be an integer >= 1"),
    ],
    ids=["unknown", "number", "batch zero", "batch bool", "batch float"],
)
def test_bad_sampler_arguments_raise_one_line_before_any_file(tmp_path, kw, named):
    with pytest.raises(ValueError) as err:
        _sweep(tmp_path, **{"seed": 0, **kw})
    assert named in str(err.value) and len(str(err.value).splitlines()) == 1
    assert not any(tmp_path.iterdir())


def test_zoom_is_refused_for_a_model_based_sweep(tmp_path):
    sweep = _sweep(tmp_path, "cmaes", 0, n=4, batch=4)
    with pytest.raises(ValueError, match="zoom: sampler='cmaes' refines by itself"):
        sweep.zoom(2)
    assert not any(tmp_path.iterdir())


def test_gp_without_pytorch_says_what_to_install(tmp_path):
    import importlib.util

    if importlib.util.find_spec("torch") is not None:
        pytest.skip("PyTorch is installed")
    with pytest.raises(ImportError, match=r"sampler='gp' needs torch: pip install torch"):
        _sweep(tmp_path, "gp", 0)
    assert not any(tmp_path.iterdir())


def test_diverged_trials_are_told_as_fail(tmp_path):
    def blows_up(hp, key):
        out = objective(hp, key)
        return out | {"val_loss": jnp.where(hp["learning_rate"] > 1e-3, jnp.inf, out["val_loss"])}

    store = str(tmp_path / "div")
    kw = dict(sampler=Hours(seed=0), batch=8, store=store, quiet=True, chunk_size=None)
    results = jaxtune.Sweep(SPACE, blows_up, 8, **kw).run()
    study = OptunaRounds(SPACE, Hours(), storage_path=os.path.join(store, STUDY_FILE)).study
    for t, r in zip(study.trials, results.trials, strict=True):
        diverged = r.hparams["learning_rate"] > 1e-3
        assert r.status == ("diverged" if diverged else "ok")
        assert t.state.name == ("FAIL" if diverged else "COMPLETE")
    assert {r.status for r in results.trials} == {"ok", "diverged"}
