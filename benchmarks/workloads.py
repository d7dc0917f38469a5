"""The workloads every method trains, shared by the benchmarks and their tests.

A workload is a model, a dataset and a mini-batch size, with an analytic FLOP count; a
profile says how big a run is. Hyperparameters and trial keys come from fixed seeds, so
every method, every N and every run see the same trials.

Example:
    >>> wl = make_workload("W1", PROFILES["smoke"])
    >>> wl.flops_per_trial(1) > 0
    True
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence

import jax
import numpy as np
from flax import linen as nn

import jaxtune
from jaxtune import datasets, models
from jaxtune.train import Trainer, make_train

# Hyperparameter ranges shared by every method.
LR = (1e-3, 0.3)  # learning rate, log-uniform
MOMENTUM = (0.5, 0.99)  # momentum, log-uniform on 1 - momentum
SEED = 0


@dataclasses.dataclass(frozen=True)
class Profile:
    """How big a run is.

    Attributes:
        name: ``"full"``, ``"quick"``, ``"smoke"``, ``"gpu"`` or ``"gpu-quick"``.
        trials: the N of the table.
        epochs: epochs of every training.
        reps: timed repetitions per cell (the median is reported).
        cell_budget_s: a method's cell is skipped when its estimated time (first call
            plus repetitions) exceeds this.
        workloads: which of W1..W4 run.
        synthetic_n: samples of W1's synthetic data (before the train/val split).
        hyperoptax_parallel: hyperoptax's ``n_parallel`` (capped at N).
        sweep_n: trials of the end-to-end :class:`jaxtune.Sweep` on W2.
        probe_n: trials (one chunk) of the compilation-cache probe.
        matmul_size: side of the large square matmul ceiling.
        min_rep_s: a timed repetition repeats the whole cell until it lasts this long.
    """

    name: str
    trials: tuple[int, ...]
    epochs: int
    reps: int
    cell_budget_s: float
    workloads: tuple[str, ...] = ("W1", "W2", "W3", "W4")
    synthetic_n: int = 1024
    hyperoptax_parallel: int = 64
    sweep_n: int = 256
    probe_n: int = 64
    matmul_size: int = 2048
    min_rep_s: float = 0.2


PROFILES = {
    "full": Profile("full", (1, 16, 64, 256, 1024), epochs=10, reps=3, cell_budget_s=60.0),
    "quick": Profile(
        "quick",
        (1, 16, 64),
        epochs=2,
        reps=3,
        cell_budget_s=6.0,
        workloads=("W1", "W2"),
        sweep_n=64,
        probe_n=16,
        min_rep_s=0.1,
    ),
    "smoke": Profile(
        "smoke",
        (2,),
        epochs=1,
        reps=3,
        cell_budget_s=5.0,
        workloads=("W1",),
        synthetic_n=256,
        hyperoptax_parallel=2,
        sweep_n=1,
        probe_n=1,
        matmul_size=512,
        min_rep_s=0.02,
    ),
    "gpu": Profile(
        "gpu",
        (1, 16, 64, 256, 1024, 4096, 16384),
        epochs=10,
        reps=3,
        cell_budget_s=60.0,
        hyperoptax_parallel=1024,
        sweep_n=4096,
        probe_n=1024,
        matmul_size=8192,
    ),
    "gpu-quick": Profile(
        "gpu-quick",
        # 64 between 1 and 1024: a cell's estimate scales the previous N's per-trial time,
        # which a jump from one trial to 1024 batched ones overestimates a thousandfold.
        (1, 64, 1024, 16384),
        epochs=2,
        reps=3,
        cell_budget_s=10.0,
        hyperoptax_parallel=1024,
        sweep_n=1024,
        probe_n=1024,
        matmul_size=8192,
    ),
}


@dataclasses.dataclass(frozen=True)
class Workload:
    """One model, dataset and mini-batch size, with its analytic FLOP count.

    Attributes:
        name: ``"W1"`` .. ``"W4"``.
        label: a human description.
        data: the dataset, on device.
        model: a fixed-size Flax module (jaxtune's ``MLP`` at its maximum size, or ``CNN``).
        batch: mini-batch size.
        forward_flops: FLOPs of one forward pass of one example (multiply-adds count 2).
        params: number of trainable parameters.
    """

    name: str
    label: str
    data: datasets.Dataset
    model: nn.Module
    batch: int
    forward_flops: int
    params: int

    @property
    def steps_per_epoch(self) -> int:
        """Mini-batches per epoch (the remainder is dropped, as jaxtune's trainer does)."""
        return self.data.x_train.shape[0] // self.batch

    def flops_per_trial(self, epochs: int) -> int:
        """FLOPs of one whole training: per step forward + backward (3x forward), plus
        the evaluation pass (one forward over the validation set) after every epoch."""
        n_val = self.data.x_val.shape[0]
        step = 3 * self.forward_flops * self.batch
        return epochs * (self.steps_per_epoch * step + self.forward_flops * n_val)


def mlp_forward_flops(sizes: Sequence[int]) -> int:
    """Forward FLOPs of one example through dense layers ``sizes[0] -> ... -> sizes[-1]``.

    ``2 * sum(fan_in * fan_out)``: one multiply and one add per weight; biases and
    activations are left out. Training costs about 3x this per example (the backward pass
    computes two matmuls per layer), i.e. about ``6 * params`` per example.

    Example:
        >>> mlp_forward_flops([64, 64, 10])
        9472
    """
    return 2 * sum(a * b for a, b in itertools.pairwise(sizes))


def cnn_forward_flops(
    height: int, width: int, c_in: int, channels: Sequence[int], kernel: int, n_out: int
) -> int:
    """Forward FLOPs of one image through :class:`jaxtune.models.CNN`.

    Each stride-1 ``SAME`` convolution costs ``H * W * k * k * c_in * c_out``
    multiply-adds; the dense output layer ``H * W * c_last * n_out``. Two FLOPs each.

    Example:
        >>> cnn_forward_flops(8, 8, 1, (16, 32), 3, 10)
        649216
    """
    macs, c = 0, c_in
    for c_out in channels:
        macs += height * width * kernel * kernel * c * c_out
        c = c_out
    macs += height * width * c * n_out
    return 2 * macs


def count_params(model: nn.Module, x: jax.Array) -> int:
    """Trainable parameters of ``model`` for inputs shaped like ``x`` (no FLOPs spent)."""
    shapes = jax.eval_shape(model.init, jax.random.key(0), x[:1])
    return sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(shapes))


def make_workload(name: str, profile: Profile) -> Workload:
    """Builds workload ``name`` (``"W1"`` .. ``"W4"``) for ``profile``."""
    if name == "W1":
        data = datasets.synthetic(n=profile.synthetic_n, n_classes=2, n_noise_features=14)
        sizes, batch, label = (16, 32, 32, 2), 16, "tiny MLP 16-32-32-2, synthetic"
    elif name in ("W2", "W3"):
        data = datasets.digits()
        width = 64 if name == "W2" else 256
        sizes = (64, width, 10) if name == "W2" else (64, width, width, 10)
        batch = 64
        label = f"{'' if name == 'W2' else 'wide '}MLP {'-'.join(map(str, sizes))}, digits"
    elif name == "W4":
        data = datasets.digits(flatten=False)
        cnn = models.CNN(n_out=10)
        flops = cnn_forward_flops(8, 8, 1, cnn.channels, cnn.kernel_size, 10)
        channels = "-".join(map(str, cnn.channels))
        label = f"CNN conv{cnn.kernel_size}x{cnn.kernel_size} {channels} + dense, digits 8x8"
        return Workload(name, label, data, cnn, 64, flops, count_params(cnn, data.x_train))
    else:
        raise ValueError(f"unknown workload {name!r}; known: W1, W2, W3, W4")
    assert data.x_train.shape[1] == sizes[0] and data.n_out == sizes[-1], (name, sizes)
    mlp = models.MLP(max_hidden=sizes[1], max_layers=len(sizes) - 2, n_out=sizes[-1])
    flops = mlp_forward_flops(sizes)
    return Workload(name, label, data, mlp, batch, flops, count_params(mlp, data.x_train))


def trainer_for(wl: Workload, epochs: int, data_order: str = "shared") -> Trainer:
    """A jaxtune trainer for ``wl``: SGD + momentum, no decay, the model at full size.

    Every call returns a new object, so compiled programs are not shared between methods
    (each method's compile time is its own). ``data_order`` is the trainer's (shared by
    default: every trial sees the same mini-batches).
    """
    return make_train(
        wl.data,
        wl.model,
        optimizer="momentum",
        batch_size=wl.batch,
        max_epochs=epochs,
        decay_systems=("none",),
        data_order=data_order,
    )


def sample_hparams(n: int) -> dict[str, np.ndarray]:
    """``n`` learning rates and momenta from a jaxtune space with a fixed seed.

    The first ``n`` of one draw of 16384, so every N shares its first trials.
    """
    space = jaxtune.Space(
        learning_rate=jaxtune.LogUniform(*LR), momentum=jaxtune.OneMinusLogUniform(*MOMENTUM)
    )
    draw = space.random(jax.random.key(SEED), max(n, 16384))
    return {k: np.asarray(v[:n], np.float32) for k, v in draw.items()}


def trial_keys(n: int) -> jax.Array:
    """One typed PRNG key per trial."""
    return jax.random.split(jax.random.key(SEED + 1), n)
