"""Your own model, optimizer and dataset in a config file: import paths, [model] keyword
arguments, any optax optimizer by name, and one-line errors (status 2) naming the key."""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest

import jaxtune
from jaxtune.cli import main
from jaxtune.space import Choice, LogUniform, Space, Uniform
from jaxtune.sweep import Task

MODULE = "jt_own_nets"
SOURCE = """
import flax.linen as nn
import numpy as np
from flax import nnx


class Small(nn.Module):
    n_out: int
    width: int = 8

    @nn.compact
    def __call__(self, x):
        return nn.Dense(self.n_out)(nn.relu(nn.Dense(self.width)(x)))


class SmallNNX(nnx.Module):
    def __init__(self, din, n_out, *, rngs, width=8):
        self.hidden = nnx.Linear(din, width, rngs=rngs)
        self.out = nnx.Linear(width, n_out, rngs=rngs)

    def __call__(self, x):
        return self.out(nnx.relu(self.hidden(x)))


def blobs(val_fraction=0.2, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, 240)
    x = rng.normal(size=(3, 5))[y] * 2 + rng.normal(size=(240, 5))
    return x, y


class NotAModule:
    pass
"""


@pytest.fixture(scope="module", autouse=True)
def own_module(tmp_path_factory):
    folder = tmp_path_factory.mktemp("own")
    (folder / f"{MODULE}.py").write_text(SOURCE)
    sys.path.insert(0, str(folder))
    yield
    sys.path.remove(str(folder))
    sys.modules.pop(MODULE, None)


def _config(tmp_path, task: str, rest: str = "", head: str = "") -> str:
    path = tmp_path / "own.toml"
    text = f"trials = 4\nseed = 0\nchunk_size = 4\n{head}\n[task]\n{task}\n{rest}"
    path.write_text(textwrap.dedent(text))
    return str(path)


def _sweep(capsys, cfg: str, out) -> jaxtune.Results:
    argv = ["sweep", cfg, "--out", str(out), "--quiet", "--no-cache", "--allow-import", MODULE]
    assert main(argv) == 0, capsys.readouterr().err
    return jaxtune.load(out)


def test_cli_lion_and_a_linen_model_by_import_path(tmp_path, tiny_npz, capsys) -> None:
    task = f'dataset = "{tiny_npz}"\nmodel = "{MODULE}:Small"\noptimizer = "lion"\nepochs = 2'
    rest = """
    [model]
    n_out = 3
    width = 8

    [space]
    learning_rate = { type = "log_uniform", low = 3e-3, high = 3e-2 }
    b1 = { type = "uniform", low = 0.8, high = 0.95 }
    batch_size = 32
    """
    res = _sweep(capsys, _config(tmp_path, task, rest), tmp_path / "lion")
    assert len(res.trials) == 4
    assert res.meta["task"]["model_kwargs"] == {"n_out": 3, "width": 8}
    assert res.meta["task"]["optimizer"] == "lion"
    for t in res.trials:
        assert 0.8 <= t.hparams["b1"] <= 0.95
        assert np.isfinite(t.final["val_loss"])
    assert res.best(1)[0].final["val_accuracy"] > 0.6  # it learned
    _, hist = res.retrain(res.best(1)[0].trial)  # the stored trial, again
    stored = res.best(1)[0].curves["val_loss"]
    np.testing.assert_allclose(np.asarray(hist.val_loss), stored, rtol=1e-5)


def test_cli_an_nnx_model_a_dataset_function_and_a_non_table_argument(tmp_path, capsys) -> None:
    task = (
        f'dataset = "{MODULE}:blobs"\nmodel = "{MODULE}:SmallNNX"\n'
        'optimizer = "optimistic_gradient_descent"\nepochs = 2\nbatch_size = 32'
    )
    rest = """
    [model]
    din = 5
    n_out = 3

    [space]
    learning_rate = { type = "log_uniform", low = 1e-3, high = 1e-1 }
    alpha = { type = "uniform", low = 0.5, high = 1.5 }
    """
    res = _sweep(capsys, _config(tmp_path, task, rest), tmp_path / "ogd")
    assert res.path.endswith("ogd") and len(res.trials) == 4
    assert {round(t.hparams["alpha"], 6) for t in res.trials}.__len__() == 4
    assert all(np.isfinite(t.final["val_loss"]) for t in res.trials)


BAD = [
    ("unknown optimizer", 'optimizer = "nosuch"', "", "task.optimizer", "nosuch"),
    ("unknown module", 'model = "jt_no_such_module:Net"', "", "task.model", "jt_no_such"),
    ("missing attribute", f'model = "{MODULE}:Missing"', "", "task.model", "Missing"),
    ("not a module", f'model = "{MODULE}:NotAModule"', "", "task.model", "not a flax"),
    ("bad model kwargs", f'model = "{MODULE}:Small"', "[model]\nwidht = 3\n", "task.model", ""),
    ("missing dataset", f'dataset = "{MODULE}:nothing"', "", "task.dataset", "nothing"),
    ("kwargs for mlp", 'model = "mlp"', "[model]\nwidth = 3\n", "task.model_kwargs", ""),
    ("model not a table", "", "", "'model' must be a table", ""),
    (
        "a family's name with lion",
        'optimizer = "lion"',
        "[space]\nmomentum = 0.9\n",
        "space.momentum",
        "['b1', 'b2', 'learning_rate', 'weight_decay']",
    ),
    # The space's optimizer dimension chooses among the six families only.
    ("lion as a dimension", "", '[space]\noptimizer = ["sgd", "lion"]\n', "optimizer", ""),
]


@pytest.mark.parametrize(("what", "task", "rest", "named", "also"), BAD, ids=[b[0] for b in BAD])
def test_bad_config_exits_2_with_one_line(tmp_path, capsys, what, task, rest, named, also) -> None:
    head = "model = 3\n" if what == "model not a table" else ""
    cfg = _config(tmp_path, task, rest, head=head)
    trust = ["--allow-import", MODULE, "--allow-import", "jt_no_such_module"]
    assert main(["sweep", cfg, "--out", str(tmp_path / "o"), "--quiet", *trust]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and named in err[0] and also in err[0], err
    assert not (tmp_path / "o").exists()


def test_task_values_round_trip_and_identity(tiny_npz) -> None:
    plain = Task(dataset=tiny_npz)
    assert "model_kwargs" not in plain.to_dict()  # stored as before this field existed
    own = Task(dataset=tiny_npz, model=f"{MODULE}:Small", model_kwargs={"n_out": 3})
    again = Task.from_dict(own.to_dict())
    assert again == own and hash(again) == hash(own)
    with pytest.raises(ValueError, match="plain values"):
        Task(model=f"{MODULE}:Small", model_kwargs={"n_out": object()})
    lion = Task(dataset=tiny_npz, optimizer="lion", epochs=2)
    ok = Space(learning_rate=LogUniform(1e-4, 1e-2), b2=Uniform(0.9, 0.99))
    lion.prepare(ok)
    with pytest.raises(ValueError, match=r"space.b2: values must lie in \[0, 1\)"):
        lion.prepare(Space(learning_rate=LogUniform(1e-4, 1e-2), b2=Uniform(0.9, 1.5)))
    with pytest.raises(ValueError, match=r"space\.alpha: optimizer 'lion' takes no argument"):
        lion.prepare(Space(alpha=Uniform(0.5, 1.0)))
    ogd = Task(dataset=tiny_npz, optimizer="optimistic_gradient_descent")
    with pytest.raises(ValueError, match=r"space\.alpha: an optimizer argument takes numbers"):
        ogd.prepare(Space(alpha=Choice(["a", "b"])))
    with pytest.raises(ValueError, match=r"hidden and layers apply to task\.model='mlp' only"):
        own.prepare(Space(hidden=Choice([4, 8])))
