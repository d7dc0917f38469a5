"""The sweep's Optuna journal file (jaxtune.sweep.journal): Optuna's format, one writer,
and trials whose creation a kill cut short completed on reopening."""

import json

import numpy as np
import pytest
from known_optimum import SPACE

from jaxtune.sweep.journal import journal_storage
from jaxtune.sweep.optuna_rounds import OptunaRounds

optuna = pytest.importorskip("optuna")


def test_optuna_reads_the_file_and_entries_are_whole_lines(tmp_path):
    path = str(tmp_path / "optuna.jsonl")
    rounds = OptunaRounds(SPACE, "tpe", seed=0, storage_path=path)
    numbers, _ = rounds.ask(5)
    rounds.tell(numbers, np.arange(5.0))
    with open(path, "rb") as f:
        lines = f.read().splitlines(keepends=True)
    assert all(line.endswith(b"\n") and json.loads(line) for line in lines)
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(path))
    study = optuna.load_study(study_name="jaxtune", storage=storage)
    assert [t.value for t in study.trials] == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_a_trial_cut_short_while_created_gets_its_parameters_on_reopening(tmp_path):
    path = str(tmp_path / "optuna.jsonl")
    rounds = OptunaRounds(SPACE, "tpe", seed=0, storage_path=path)
    rounds.ask(3)
    storage, _ = journal_storage(path)  # as a killed process left it: trial 3 has no
    study = optuna.load_study(study_name="jaxtune", storage=storage)  # parameters yet
    study.ask({"learning_rate": optuna.distributions.FloatDistribution(1e-5, 1.0, log=True)})
    again = OptunaRounds(SPACE, "tpe", seed=0, storage_path=path)
    pending, samples = again.pending()
    np.testing.assert_array_equal(pending, [0, 1, 2, 3])
    assert bool(SPACE.contains(samples).all())
    trial = again.study.trials[3]
    assert set(trial.params) == {"learning_rate", "one_minus_momentum", "hidden"}
    again.tell(pending, np.ones(4))
    assert len(OptunaRounds(SPACE, "tpe", storage_path=path).told()) == 4
