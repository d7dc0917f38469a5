"""Every lane strategy, with random and TPE proposals, on the built-in task and on a
user's own loop, from Python; and TPE with each early-stopping strategy from a TOML
config on the command line. Each ends with every trial once, trained no longer than
its strategy's ``max_epochs``."""

from __future__ import annotations

import pytest
from user_loops import Descent

import jaxtune
from jaxtune.cli import main

STRATEGIES = {
    "sh": jaxtune.SuccessiveHalving(min_epochs=1, reduction_factor=3, max_epochs=3),
    "hyperband": jaxtune.Hyperband(min_epochs=1, reduction_factor=3, max_epochs=3),
    "asha": jaxtune.ASHA(min_epochs=1, reduction_factor=3, max_epochs=3, lanes=3),
    "pbt": jaxtune.PBT(interval_epochs=1, max_epochs=3),
}
SPACE = jaxtune.Space(learning_rate=jaxtune.LogUniform(1e-3, 1.0))


@pytest.mark.parametrize("sampler", ["random", "tpe"])
@pytest.mark.parametrize("name", sorted(STRATEGIES))
@pytest.mark.parametrize("task", ["built-in", "own loop"])
def test_every_strategy_with_every_proposer_on_both_kinds_of_task(
    tmp_path, tiny_npz, name, sampler, task
):
    if sampler == "tpe":
        pytest.importorskip("optuna")
    trainer = jaxtune.Task(dataset=tiny_npz, epochs=3) if task == "built-in" else Descent(3)
    kw = {"sampler": sampler, "scheduler": STRATEGIES[name], "quiet": True}
    if task == "own loop":
        kw["objective"] = "loss"
    sweep = jaxtune.Sweep(SPACE, trainer, 6, store=str(tmp_path), **kw)
    res = sweep.run()
    assert sorted(t.trial for t in res.trials) == list(range(sweep.n_trials))
    assert all(1 <= t.final["epochs_trained"] <= 3 for t in res.trials)
    assert res.best_value is not None
    if name == "pbt":
        assert res.meta["pbt_lineage"]["0"]  # every interval's rows
    else:
        assert max(t.final["epochs_trained"] for t in res.trials) == 3  # the top is reached


@pytest.mark.parametrize("kind", ["successive_halving", "hyperband", "asha"])
def test_tpe_with_each_early_stopping_strategy_from_a_config(tmp_path, tiny_npz, kind):
    pytest.importorskip("optuna")
    cfg = tmp_path / "sweep.toml"
    cfg.write_text(
        f'trials = 6\nsampler = "tpe"\n[task]\ndataset = "{tiny_npz}"\nepochs = 3\n'
        f'[scheduler]\nkind = "{kind}"\nmax_epochs = 3\n'
        '[space]\nlearning_rate = { type = "log_uniform", low = 0.001, high = 1.0 }\n'
    )
    out = tmp_path / "run"
    assert main(["sweep", str(cfg), "--out", str(out), "--quiet", "--no-cache"]) == 0
    res = jaxtune.load(out)
    assert res.meta["scheduler"]["kind"] == kind and res.meta["sampler"] == "tpe"
    assert len(res.trials) == res.meta["n_trials"]
