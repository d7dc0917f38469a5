"""OptunaRounds: Optuna's samplers asked for a batch per round, resumable from a file.

The objective is pure numpy (a smooth bowl in log learning rate, log(1 - momentum) and
an integer, plus noise), so Optuna's own time dominates every test.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

import jaxtune
from jaxtune.sweep.optuna_rounds import OptunaRounds, distributions

optuna = pytest.importorskip("optuna")

SPACE = jaxtune.Space(
    learning_rate=jaxtune.LogUniform(1e-5, 1.0),
    momentum=jaxtune.OneMinusLogUniform(0.5, 0.999),
    hidden=jaxtune.IntUniform(8, 128),
)


def bowl(samples) -> np.ndarray:
    """The objective without noise: 0 at lr 0.03, momentum 0.95, hidden 40."""
    a = np.log10(np.asarray(samples["learning_rate"], np.float64)) - np.log10(0.03)
    b = np.log10(1 - np.asarray(samples["momentum"], np.float64)) - np.log10(0.05)
    c = (np.asarray(samples["hidden"], np.float64) - 40) / 30
    return 10 * (a**2 + 0.5 * b**2 + 0.5 * a * b + 0.3 * c**2)


def test_each_dimension_maps_to_an_optuna_distribution_on_its_scale():
    space = jaxtune.Space(
        lr=jaxtune.LogUniform(1e-4, 1.0),
        d=jaxtune.Uniform(0.0, 2.0),
        beta=jaxtune.OneMinusLogUniform(0.9, 0.999),
        units=jaxtune.IntUniform(16, 256, log=True),
        opt=jaxtune.Choice(["sgd", "adam"]),
        eps=1e-8,
    )
    d = distributions(space)
    assert list(d) == ["lr", "d", "one_minus_beta", "units", "opt"]  # Fixed left out
    assert (d["lr"].low, d["lr"].high, d["lr"].log) == (1e-4, 1.0, True)
    assert (d["d"].low, d["d"].high, d["d"].log) == (0.0, 2.0, False)
    np.testing.assert_allclose([d["one_minus_beta"].low, d["one_minus_beta"].high], [1e-3, 0.1])
    assert d["one_minus_beta"].log
    assert (d["units"].low, d["units"].high, d["units"].log) == (16, 256, True)
    assert d["opt"].choices == ("sgd", "adam")


def test_ask_returns_a_sample_set_encoded_like_space_random():
    space = jaxtune.Space(**SPACE, opt=["sgd", "adam"], eps=1e-8, batch=jaxtune.Choice([32, 64]))
    rounds = OptunaRounds(space, "tpe", seed=0)
    numbers, samples = rounds.ask(12)
    reference = space.random(jax.random.key(0), 12)
    assert list(samples) == list(reference)
    assert {k: v.dtype for k, v in samples.items()} == {k: v.dtype for k, v in reference.items()}
    assert all(v.shape == (12,) for v in samples.values())
    assert bool(space.contains(samples).all())
    np.testing.assert_array_equal(numbers, np.arange(12))
    np.testing.assert_array_equal(samples["eps"], np.full(12, 1e-8, np.float32))
    for t, beta, opt, batch in zip(
        rounds.study.trials, samples["momentum"], samples["opt"], samples["batch"], strict=True
    ):
        # The study holds 1 - beta on its log scale; the sample set holds beta.
        np.testing.assert_allclose(1 - t.params["one_minus_momentum"], beta, rtol=1e-6)
        assert space["opt"].labels[int(opt)] == t.params["opt"]
        assert int(batch) == t.params["batch"]


def test_tell_records_values_and_failures():
    rounds = OptunaRounds(SPACE, "random", seed=1)
    numbers, samples = rounds.ask(4)
    values = bowl(samples)
    values[1] = np.nan
    rounds.tell(numbers, values, failed_mask=[False, False, True, False])
    states = [t.state.name for t in rounds.study.trials]
    assert states == ["COMPLETE", "FAIL", "FAIL", "COMPLETE"]
    assert rounds.told() == {0: values[0], 3: values[3]}
    assert rounds.best_value == min(values[0], values[3])
    rounds.tell(numbers[:1], [123.0])  # told already: the first value stays
    assert rounds.told()[0] == values[0]
    with pytest.raises(ValueError, match="3 trial numbers, 2 values"):
        rounds.tell([0, 1, 2], [1.0, 2.0])


def _median_regret(sampler: str) -> float:
    regrets = []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        if sampler == "random search":
            samples = SPACE.random(jax.random.key(seed), 256)
            truth = bowl(samples)
            observed = truth + rng.normal(0, 0.05, 256)
        else:
            rounds = OptunaRounds(SPACE, sampler, seed=seed)
            truth, observed = [], []
            for _ in range(4):
                numbers, samples = rounds.ask(64)
                truth.append(bowl(samples))
                observed.append(truth[-1] + rng.normal(0, 0.05, 64))
                rounds.tell(numbers, observed[-1])
            truth, observed = np.concatenate(truth), np.concatenate(observed)
            assert len(rounds.study.trials) == 256
        regrets.append(truth[np.argmin(observed)])  # the true value of the trial picked
    return float(np.median(regrets))


@pytest.mark.parametrize("sampler", ["tpe", "cmaes"])
def test_4_rounds_of_64_beat_random_search_of_256_trials(sampler):
    if sampler == "cmaes":
        pytest.importorskip("cmaes")
    # Median over 5 seeds of the true regret: random 0.32, TPE 0.037, CMA-ES 0.074.
    found, random = _median_regret(sampler), _median_regret("random search")
    assert found < random / 2, (found, random)


def test_reopening_the_file_hands_out_untold_trials_first(tmp_path):
    path = str(tmp_path / "optuna.jsonl")
    first = OptunaRounds(SPACE, "tpe", seed=0, storage_path=path)
    numbers, samples = first.ask(8)
    first.tell(numbers[:4], bowl(samples)[:4])
    again = OptunaRounds(SPACE, "tpe", seed=0, storage_path=path)
    pending, pending_samples = again.pending()
    np.testing.assert_array_equal(pending, numbers[4:])
    np.testing.assert_allclose(pending_samples["learning_rate"], samples["learning_rate"][4:])
    numbers2, _ = again.ask(6)  # pending() handed them out already: all new
    np.testing.assert_array_equal(numbers2, np.arange(8, 14))
    third = OptunaRounds(SPACE, "tpe", seed=0, storage_path=path)
    numbers3, _ = third.ask(12)  # 4 + 6 untold ones first, then 2 new
    np.testing.assert_array_equal(numbers3, [4, 5, 6, 7, *range(8, 14), 14, 15])


def test_reopening_with_another_space_or_direction_is_refused(tmp_path):
    path = str(tmp_path / "optuna.jsonl")
    OptunaRounds(SPACE, "tpe", storage_path=path).ask(2)
    other = jaxtune.Space(**SPACE, eps=jaxtune.LogUniform(1e-9, 1e-6))
    with pytest.raises(ValueError, match="space") as refused:
        OptunaRounds(other, "tpe", storage_path=path)
    # One short line naming what differs and what to do (it was two JSON dumps).
    assert str(refused.value) == (
        f"{path}: the study's space differs in eps: it holds 2 trials of another search; "
        "delete the file, or use another one"
    )
    with pytest.raises(ValueError, match=r"direction|maximize"):
        OptunaRounds(SPACE, "tpe", storage_path=path, maximize=True)


def test_a_study_file_without_trials_takes_the_new_search(tmp_path):
    # A first attempt that failed before asking anything leaves the file behind.
    path = str(tmp_path / "optuna.jsonl")
    OptunaRounds(SPACE, "tpe", storage_path=path)
    other = jaxtune.Space(**SPACE, eps=jaxtune.LogUniform(1e-9, 1e-6))
    retry = OptunaRounds(other, "cmaes", storage_path=path, maximize=False)
    numbers, samples = retry.ask(3)
    assert list(numbers) == [0, 1, 2] and set(samples) == set(other.names)
    assert json.loads(retry.study.user_attrs["jaxtune_space"]) == other.to_dict()


def test_a_torn_last_line_of_the_journal_is_cut_off(tmp_path):
    path = tmp_path / "optuna.jsonl"
    rounds = OptunaRounds(SPACE, "random", seed=0, storage_path=str(path))
    numbers, samples = rounds.ask(3)
    rounds.tell(numbers, bowl(samples))
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"op_code":5,"worker_id":"x","trial')  # a crash mid-write
    again = OptunaRounds(SPACE, "random", seed=0, storage_path=str(path))
    text = path.read_bytes()
    assert text.startswith(whole) and b"trial" not in text[len(whole) :]
    assert all(json.loads(line) for line in text.splitlines())
    numbers, _ = again.ask(1)
    again.tell(numbers, [1.0])
    assert len(OptunaRounds(SPACE, "random", storage_path=str(path)).told()) == 4


def test_bad_arguments():
    with pytest.raises(ValueError, match="sampler must be one of"):
        OptunaRounds(SPACE, "bayes")
    with pytest.raises(ValueError, match="nothing to search"):
        OptunaRounds(jaxtune.Space(eps=1e-8))
    with pytest.raises(ValueError, match="n must be"):
        OptunaRounds(SPACE).ask(0)
    sampler = optuna.samplers.RandomSampler(seed=3)
    numbers, _ = OptunaRounds(SPACE, sampler).ask(4)  # any Optuna sampler object
    assert len(numbers) == 4


# --------------------------------------------------------------------------- crash, resume

WORKER = """
import json, os, signal, sys
import numpy as np
sys.path.insert(0, {tests!r})
from test_optuna_rounds import SPACE, bowl
from jaxtune.sweep.optuna_rounds import OptunaRounds

path, log, kill, total = sys.argv[1], sys.argv[2], sys.argv[3], 64
rounds = OptunaRounds(SPACE, "tpe", seed=0, storage_path=path)

def tell(numbers, values):
    rounds.tell(numbers, values)
    with open(log, "a") as f:  # what this process told, once the study has it
        for n, v in zip(numbers.tolist(), values.tolist()):
            f.write(json.dumps([n, v]) + "\\n")
        f.flush()
        os.fsync(f.fileno())

round_ = 0
while len(rounds.told()) < total:
    numbers, samples = rounds.ask(min(16, total - len(rounds.told())))
    values = bowl(samples)  # a pure function of the trial's values: re-evaluation agrees
    if kill == f"after-ask-{{round_}}":
        os.kill(os.getpid(), signal.SIGKILL)
    tell(numbers[:8], values[:8])
    if kill == f"mid-round-{{round_}}":
        os.kill(os.getpid(), signal.SIGKILL)
    tell(numbers[8:], values[8:])
    if kill == f"between-rounds-{{round_}}":
        os.kill(os.getpid(), signal.SIGKILL)
    round_ += 1
print("finished", len(rounds.told()))
"""


@pytest.mark.slow
def test_sigkill_between_and_within_rounds_then_resume_tells_every_trial_once(tmp_path):
    tests = os.path.dirname(os.path.abspath(__file__))
    worker = tmp_path / "worker.py"
    worker.write_text(textwrap.dedent(WORKER.format(tests=tests)))
    path, log = str(tmp_path / "optuna.jsonl"), str(tmp_path / "told.jsonl")
    for kill in ("mid-round-1", "after-ask-0", "between-rounds-0", "none"):
        run = subprocess.run(
            [sys.executable, str(worker), path, log, kill], capture_output=True, text=True
        )
        if kill == "none":
            assert run.returncode == 0 and run.stdout.split() == ["finished", "64"], run.stderr
        else:
            assert run.returncode == -signal.SIGKILL, run.stderr[-2000:]
    with open(log) as f:
        told = [json.loads(line) for line in f]
    numbers = [n for n, _ in told]
    assert sorted(numbers) == list(range(64))  # every trial told once: none lost or repeated
    study = OptunaRounds(SPACE, "tpe", storage_path=path).study
    assert len(study.trials) == 64
    assert {t.state.name for t in study.trials} == {"COMPLETE"}
    assert {t.number: t.value for t in study.trials} == dict(told)
    for t in study.trials:  # each value belongs to the trial's own parameters
        sample = {"learning_rate": [t.params["learning_rate"]], "hidden": [t.params["hidden"]]}
        sample["momentum"] = [1 - t.params["one_minus_momentum"]]
        # (evaluated on the float32 sample set; the study keeps Optuna's float64 draw)
        np.testing.assert_allclose(bowl(sample), t.value, rtol=1e-5, atol=1e-5)
