"""lr_find: the learning-rate range test, batched over lanes in one compiled program.

Compiling is the slow part on a small CPU, so the tests share one tiny trainer and two
program shapes (two lanes, one lane); the digits check against a real sweep is ``slow``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxtune
from jaxtune.train import lr_find as lr_find_module
from jaxtune.train.lr_find import LRFind, lr_find, steepest, valley

STEPS = 30


@pytest.fixture(scope="module")
def trainer(tiny_npz):
    data = jaxtune.datasets.from_npz(tiny_npz, val_fraction=0.2, seed=0)
    model = jaxtune.models.MLP(max_hidden=8, max_layers=1, n_out=data.n_out)
    return jaxtune.make_train(data, model, batch_size=32)


@pytest.fixture(scope="module")
def two_lanes(trainer):
    """Momentum 0 and 0.9 side by side; the rate climbs far enough that both stop."""
    return lr_find(trainer, 1e-3, 1e3, STEPS, lanes={"momentum": [0.0, 0.9]})


def _smoothed(losses: np.ndarray, beta: float) -> np.ndarray:
    avg, out = 0.0, []
    for t, loss in enumerate(losses.astype(np.float64)):
        avg = beta * avg + (1 - beta) * loss
        out.append(avg / (1 - beta ** (t + 1)))
    return np.array(out)


def _recorded(found: LRFind, lane: int) -> slice:
    return slice(0, min(int(found.stopped_at[lane]) + 1, len(found.learning_rates)))


def test_learning_rates_grow_exponentially_from_min_to_max(two_lanes):
    lrs = two_lanes.learning_rates
    np.testing.assert_allclose(lrs, np.geomspace(1e-3, 1e3, STEPS), rtol=1e-6)
    assert two_lanes.losses.shape == two_lanes.smoothed.shape == (2, STEPS)


def test_smoothing_is_bias_corrected_exponential_averaging(two_lanes):
    for lane in range(2):
        seen = _recorded(two_lanes, lane)
        expected = _smoothed(two_lanes.losses[lane, seen], 0.98)
        np.testing.assert_allclose(two_lanes.smoothed[lane, seen], expected, rtol=1e-6)
    # The first smoothed loss is the first loss itself (the bias correction).
    np.testing.assert_allclose(two_lanes.smoothed[:, 0], two_lanes.losses[:, 0], rtol=1e-6)


def test_a_lane_stops_when_its_smoothed_loss_passes_stop_factor_times_its_best(two_lanes):
    assert (two_lanes.stopped_at < STEPS).all(), "lr up to 1e3 must blow both lanes up"
    for lane in range(2):
        s = two_lanes.smoothed[lane]
        stop = int(two_lanes.stopped_at[lane])
        best = np.minimum.accumulate(s[: stop + 1])
        passed = ~np.isfinite(s[: stop + 1]) | (s[: stop + 1] > 4.0 * best)
        assert np.flatnonzero(passed)[0] == stop  # the first step past the threshold
        assert np.isnan(two_lanes.losses[lane, stop + 1 :]).all()
        assert np.isnan(two_lanes.smoothed[lane, stop + 1 :]).all()
        assert np.isfinite(two_lanes.losses[lane, :stop]).all()


def test_a_larger_stop_factor_lets_a_lane_run_longer(trainer, two_lanes):
    patient = lr_find(trainer, 1e-3, 1e3, STEPS, 0.98, 1e3, lanes={"momentum": [0.0, 0.9]})
    assert (patient.stopped_at >= two_lanes.stopped_at).all()
    assert (patient.stopped_at > two_lanes.stopped_at).any()


def test_each_lane_equals_the_same_lane_run_alone(trainer, two_lanes):
    alone = lr_find(trainer, 1e-3, 1e3, STEPS, lanes={"momentum": [0.9]})
    assert alone.stopped_at[0] == two_lanes.stopped_at[1]
    # Up to rates that train (past them, in the blow-up, float32 rounding differences of
    # a batched matmul grow chaotically: 3e-4 relative at lr 300; and near a loss of 0
    # the log-softmax rounds to 1e-7 absolute, 2e-5 relative at 0.007).
    both = lr_find(trainer, 1e-3, 0.3, STEPS, lanes={"momentum": [0.0, 0.9]})
    alone = lr_find(trainer, 1e-3, 0.3, STEPS, lanes={"momentum": [0.9]})
    np.testing.assert_allclose(both.losses[1], alone.losses[0], rtol=1e-5)
    np.testing.assert_allclose(both.smoothed[1], alone.smoothed[0], rtol=1e-5)


def test_seed_lanes_equal_runs_with_the_split_keys(trainer):
    key = jax.random.key(3)
    both = lr_find(trainer, 1e-3, 0.3, STEPS, lanes={"momentum": [0.9], "seeds": 2}, key=key)
    np.testing.assert_array_equal(both.lanes["seed"], [0, 1])
    assert not np.allclose(both.losses[0, :5], both.losses[1, :5])  # different inits
    for seed, k in enumerate(jax.random.split(key, 2)):
        alone = lr_find(trainer, 1e-3, 0.3, STEPS, lanes={"momentum": [0.9]}, key=k)
        np.testing.assert_allclose(both.losses[seed], alone.losses[0], rtol=1e-5)


def test_compiled_once_for_every_value(trainer, two_lanes):
    before = lr_find_module._program._cache_size()
    for args, momentum in (
        ((1e-5, 1.0, STEPS, 0.9, 3.0), [0.5, 0.99]),
        ((1e-2, 10.0, STEPS), [0, 0]),
    ):
        lr_find(trainer, *args, lanes={"momentum": momentum}, key=jax.random.key(7))
    assert lr_find_module._program._cache_size() == before


def test_bad_arguments_are_refused_before_tracing(trainer):
    cases = [
        ({"min_lr": 0.0}, "min_lr"),
        ({"min_lr": 1.0, "max_lr": 0.5}, "max_lr"),
        ({"num_steps": 1}, "num_steps"),
        ({"smoothing": 1.0}, "smoothing"),
        ({"stop_factor": 1.0}, "stop_factor"),
        ({"lanes": {"momentum": [0.1, 0.2], "b1": [0.9]}}, "same length"),
        ({"lanes": {"seeds": 0}}, "seeds"),
        ({"lanes": {"learning_rate": [0.1]}}, "learning_rate"),
        ({"lanes": {"batch_size": [32, 64]}}, "one call each"),
    ]
    for kwargs, match in cases:
        with pytest.raises(ValueError, match=match):
            lr_find(trainer, **kwargs)
    with pytest.raises(TypeError, match="Task or a Trainer"):
        lr_find(lambda hp, key: {}, num_steps=5)


# --------------------------------------------------------------------------- suggestions


def _curve(lrs: np.ndarray, steep_at: float) -> np.ndarray:
    """A range-test-like curve: flat, a drop centred at ``steep_at``, then a blow-up."""
    x = np.log10(lrs) - np.log10(steep_at)
    return 2.0 - np.tanh(2 * x) + np.where(x > 1.2, (x - 1.2) * 20, 0.0)


def test_steepest_is_where_the_loss_falls_fastest_against_log_lr():
    lrs = np.geomspace(1e-5, 10, 121)
    i = steepest(lrs, _curve(lrs, 1e-2))
    assert abs(np.log10(lrs[i]) + 2) <= 0.05  # within one grid step of 1e-2


def test_valley_is_fastais_longest_descending_stretch():
    # Strictly decreasing from index 2 to 9 (8 points): end 9, start 9 - 8 = 1,
    # sections 8 / 3: index 1 + 2 + 1.
    loss = np.array([5.0, 5.0, 4.9, 4.5, 4.0, 3.0, 2.0, 1.5, 1.2, 1.0, 3.0, 9.0])
    assert valley(loss) == 4
    lrs = np.geomspace(1e-5, 10, 121)
    assert lrs[valley(_curve(lrs, 1e-2))] < 1e-2  # more cautious than steepest


def _found(curves: list[np.ndarray], lrs: np.ndarray, stopped=None) -> LRFind:
    stack = np.stack(curves)
    stopped = np.full(len(curves), len(lrs)) if stopped is None else np.asarray(stopped)
    return LRFind(lrs, stack, stack, stopped, {"momentum": np.array([0.0, 0.9])[: len(curves)]})


def test_suggestions_per_lane_and_a_space_centred_on_them():
    lrs = np.geomspace(1e-5, 10, 121)
    found = _found([_curve(lrs, 1e-2), _curve(lrs, 1e-3)], lrs)
    s = found.suggestion("steepest")
    np.testing.assert_allclose(np.log10(s), [-2, -3], atol=0.05)
    dim = found.space(lane=1, factor=10)
    assert isinstance(dim, jaxtune.LogUniform)
    np.testing.assert_allclose([dim.low, dim.high], [s[1] / 10, s[1] * 10])
    assert "momentum=0.9: valley" in found.summary().splitlines()[1]
    with pytest.raises(ValueError, match="method"):
        found.suggestion("fastest")


def test_a_lane_that_stopped_at_once_has_no_suggestion():
    lrs = np.geomspace(1e-5, 10, 50)
    found = _found([_curve(lrs, 1e-2), _curve(lrs, 1e-2)], lrs, stopped=[50, 6])
    assert np.isfinite(found.suggestion()[0]) and np.isnan(found.suggestion()[1])
    with pytest.raises(ValueError, match="no steepest suggestion"):
        found.space(lane=1)


def test_plot_draws_one_line_per_lane_on_a_log_axis(tmp_path):
    lrs = np.geomspace(1e-5, 10, 80)
    found = _found([_curve(lrs, 1e-2), _curve(lrs, 1e-3)], lrs)
    fig = found.plot(tmp_path / "lr.png")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[:2] == ["momentum=0", "momentum=0.9"]
    assert len(ax.get_lines()) == 2 + 2 * 2  # each lane's two suggestions marked
    assert (tmp_path / "lr.png").stat().st_size > 1000


# --------------------------------------------------------------------------- digits


@pytest.mark.slow
def test_digits_suggestion_is_within_3x_of_the_best_constant_rate_of_a_sweep():
    data = jaxtune.datasets.digits()
    trainer = jaxtune.make_train(data, batch_size=64, max_epochs=2)
    found = lr_find(trainer, 1e-7, 10.0, 100, lanes={"momentum": [0.9]})
    suggested = float(found.suggestion("steepest")[0])
    # The sweep: 24 log-spaced constant rates, two epochs each, one vmapped program.
    lrs = jnp.geomspace(1e-3, 3.0, 24)
    run = jax.vmap(lambda lr: trainer({"learning_rate": lr, "momentum": 0.9}, jax.random.key(0)))
    val_loss = np.asarray(jax.jit(run)(lrs).val_loss[:, -1])
    best = float(lrs[np.nanargmin(val_loss)])
    assert best / 3 <= suggested <= best * 3, (suggested, best)


# --------------------------------------------------------------------------- command line


def _toml(tmp_path, body: str) -> str:
    path = tmp_path / "lr.toml"
    path.write_text(body)
    return str(path)


@pytest.mark.slow
def test_command_line_prints_suggestions_and_writes_the_plot(tmp_path, tiny_npz, capsys):
    from jaxtune.cli import main

    config = _toml(tmp_path, f'seed = 1\n[task]\ndataset = "{tiny_npz}"\nhidden = 8\nlayers = 1\n')
    out = tmp_path / "out"
    argv = ["lr-find", config, "--out", str(out), "--steps", "20", "--seeds", "2"]
    assert main([*argv, "--min-lr", "1e-3", "--max-lr", "100"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("seed=0: valley ") and lines[1].startswith("seed=1: valley ")
    assert lines[2].startswith('learning_rate = { type = "log_uniform", low = ')
    assert lines[3] == str(out / "lr_find.png") and (out / "lr_find.png").stat().st_size > 1000


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--steps", "1"], "--steps"),
        (["--min-lr", "0"], "--min-lr"),
        (["--max-lr", "x"], "--max-lr"),
        (["--min-lr", "1", "--max-lr", "0.5"], "--min-lr"),
        (["{dir}/nosuch.toml"], "nosuch.toml"),
        (["{task}unknown = 1\n"], "unknown"),
        (["{task}dataset = 'missing.npz'\n"], "missing.npz"),
        (["{task}model = 'cnn'\n"], "image data"),
        (["--out", "{file}"], "--out"),
    ],
)
def test_command_line_bad_input_exits_2_with_one_line(tmp_path, tiny_npz, capsys, argv, named):
    from jaxtune.cli import main

    (tmp_path / "a_file").write_text("x")
    fill = {"dir": str(tmp_path), "file": str(tmp_path / "a_file")}
    args = []
    for a in argv:
        if a.startswith("{task}"):
            body = a.removeprefix("{task}")
            data = "" if "dataset" in body else f'dataset = "{tiny_npz}"\n'
            a = _toml(tmp_path, f"[task]\n{data}{body}")
        args.append(a.format(**fill))
    try:
        status = main(["lr-find", *args])
    except SystemExit as e:  # argparse's own errors
        status = e.code
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and named in err[0], err


def test_a_lone_lane_without_values_is_labelled_as_the_tasks_defaults(tmp_path):
    # `jaxtune lr-find` without --seeds: one lane; its label said "lane 0", unexplained.
    lrs = np.geomspace(1e-5, 10, 121)
    curve = _curve(lrs, 1e-2)
    one = LRFind(lrs, curve[None], curve[None], np.array([len(lrs)]), {})
    assert one.lane_label(0) == "default hyperparameters"
    assert one.summary().startswith("default hyperparameters: valley ")
    fig = one.plot(tmp_path / "lr.png")
    assert fig.axes[0].get_lines()[0].get_label() == "default hyperparameters"
    two = LRFind(lrs, np.stack([curve] * 2), np.stack([curve] * 2), np.array([121, 121]), {})
    assert [two.lane_label(i) for i in range(2)] == ["lane 0", "lane 1"]
