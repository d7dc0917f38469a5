"""Datasets held on device, and mini-batches drawn inside ``jit``.

A :class:`Dataset` is a pytree of four arrays (train and validation inputs and targets)
plus static metadata, so a whole training run, batching included, can live in one
compiled program. Sources:

- :func:`digits`: scikit-learn's 1797 8x8 handwritten digits (needs ``jaxtune[data]``);
- :func:`synthetic`: noisy spirals made by jaxtune, a task on which the learning rate and
  the network size visibly matter;
- :func:`from_arrays` / :func:`from_npz`: the user's own data.

Every source splits train/validation deterministically by ``seed`` (stratified by class
for classification, see :func:`train_val_split`) and standardizes inputs with statistics
of the training part only, so nothing of the validation set leaks into training. The
dataset keeps those statistics (:class:`Standardization`): ``dataset.transform(x)``
prepares new inputs the same way, e.g. to predict with a trained model.

Conventions, shared with :mod:`jaxtune.models` and the trainer:

- inputs are float32 ``(n, *input_shape)``;
- classification targets are int32 labels ``(n,)`` in ``[0, n_classes)``;
- regression targets are float32 ``(n, n_targets)``, always two-dimensional, so they
  line up with model outputs ``(batch, n_out)`` without rank promotion.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import zipfile
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxtune.limits import MAX_CLASSES
from jaxtune.train.batching import batch_indices, epoch_batches
from jaxtune.train.splits import check_val_fraction, train_val_split

__all__ = [
    "Dataset",
    "Standardization",
    "batch_indices",
    "digits",
    "epoch_batches",
    "from_arrays",
    "from_npz",
    "synthetic",
    "train_val_split",
]

TaskKind = Literal["classification", "regression"]
_TASKS = ("classification", "regression")


@dataclasses.dataclass(frozen=True, eq=False)
class Standardization:
    """Per-feature mean and scale of the training inputs: ``(x - mean) / scale``.

    Static metadata of a :class:`Dataset` (compared and hashed by value), kept on the
    host as numpy arrays of the input shape.

    Attributes:
        mean: ``(*input_shape)`` mean of the training inputs.
        scale: ``(*input_shape)`` their standard deviation (1 for a constant feature).

    Examples:
        >>> s = Standardization(np.array([1.0, 2.0]), np.array([2.0, 1.0]))
        >>> s(np.array([[3.0, 2.0]])).tolist()
        [[1.0, 0.0]]
        >>> s == Standardization(np.array([1.0, 2.0]), np.array([2.0, 1.0]))
        True
    """

    mean: np.ndarray
    scale: np.ndarray

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``(x - mean) / scale`` in float64."""
        return (np.asarray(x, np.float64) - self.mean) / self.scale

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Standardization)
            and np.array_equal(self.mean, other.mean)
            and np.array_equal(self.scale, other.scale)
        )

    def __hash__(self) -> int:
        digest = hashlib.sha1(self.mean.tobytes() + self.scale.tobytes()).hexdigest()
        return hash((self.mean.shape, digest))


@struct.dataclass
class Dataset:
    """Train and validation arrays on device, with static metadata.

    A pytree: the four arrays are leaves (they can be passed through ``jit``), ``task``,
    ``n_classes`` and ``name`` are static (part of the compiled program's identity).

    Attributes:
        x_train: ``(n_train, *input_shape)`` float32 inputs, standardized.
        y_train: ``(n_train,)`` int32 labels, or ``(n_train, n_targets)`` float32 targets.
        x_val: ``(n_val, *input_shape)`` float32 inputs, standardized with train stats.
        y_val: ``(n_val,)`` int32 labels, or ``(n_val, n_targets)`` float32 targets.
        task: ``"classification"`` or ``"regression"``.
        n_classes: number of classes for classification, ``None`` for regression.
        name: a label for results and plots.
        standardization: the training inputs' mean and scale, or None when the inputs
            were not standardized (see :meth:`transform`).
    """

    x_train: jax.Array
    y_train: jax.Array
    x_val: jax.Array
    y_val: jax.Array
    task: TaskKind = struct.field(pytree_node=False, default="classification")
    n_classes: int | None = struct.field(pytree_node=False, default=None)
    name: str = struct.field(pytree_node=False, default="arrays")
    standardization: Standardization | None = struct.field(pytree_node=False, default=None)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input example, e.g. ``(64,)`` or ``(8, 8, 1)``."""
        return tuple(self.x_train.shape[1:])

    @property
    def n_out(self) -> int:
        """Width of the model output: ``n_classes``, or ``n_targets`` for regression."""
        return self.n_classes if self.n_classes is not None else self.y_train.shape[-1]

    def transform(self, x: np.ndarray) -> jax.Array:
        """New raw inputs prepared exactly as the training inputs were.

        Args:
            x: ``(n, *input_shape)`` raw inputs, or one example ``(*input_shape)``, in
                the units of the data the dataset was made from.

        Returns:
            float32 inputs standardized with the training part's mean and scale (as
            they were when the dataset was made), ready for a trained model.

        Raises:
            ValueError: inputs whose trailing shape is not :attr:`input_shape`.

        Examples:
            >>> x, y = np.arange(20.0).reshape(10, 2), np.arange(10) % 2
            >>> ds = from_arrays(x, y)
            >>> train, _ = train_val_split(y, stratify=True)
            >>> bool(jnp.allclose(ds.transform(x[train]), ds.x_train))
            True
            >>> ds.transform(np.array([4.0, 5.0])).shape  # one example
            (2,)
        """
        x = np.asarray(x, np.float64)
        shape = self.input_shape
        if shape == (1,) and x.ndim <= 1:  # one feature, given as a vector or a number
            x = x.reshape(-1, 1)
        if x.shape[x.ndim - len(shape) :] != shape:
            raise ValueError(f"x must have shape (n, *{shape}) or {shape}, got {x.shape}")
        if self.standardization is not None:
            x = self.standardization(x)
        return jnp.asarray(x, jnp.float32)


def from_arrays(
    x: np.ndarray,
    y: np.ndarray,
    *,
    task: TaskKind | None = None,
    val_fraction: float = 0.2,
    seed: int = 0,
    standardize: bool = True,
    name: str = "arrays",
) -> Dataset:
    """A :class:`Dataset` from the user's own arrays.

    Args:
        x: ``(n, *input_shape)`` numeric inputs; a 1-D ``x`` is one feature.
        y: ``(n,)`` labels or ``(n,)`` / ``(n, n_targets)`` regression targets.
        task: ``"classification"`` or ``"regression"``; ``None`` infers it from ``y``'s
            dtype (integer or bool: classification, float: regression).
        val_fraction: fraction of samples for validation, in ``(0, 1)``.
        seed: seed of the train/validation split.
        standardize: center and scale each input feature with the mean and standard
            deviation of the training part; constant features are only centered.
        name: stored in :attr:`Dataset.name`.

    Returns:
        The split, standardized dataset on the default device.

    Raises:
        ValueError: naming the argument, for mismatched lengths, fewer than 2 samples,
            ``val_fraction`` outside ``(0, 1)``, non-numeric data, NaN or infinity in
            ``x`` or ``y``, an unknown ``task``, or labels that are not non-negative
            integers.

    Examples:
        >>> x = np.arange(20.0).reshape(10, 2)
        >>> ds = from_arrays(x, np.array([0, 1] * 5))
        >>> ds.task, ds.n_classes, ds.x_train.shape, ds.x_val.shape
        ('classification', 2, (8, 2), (2, 2))
    """
    check_val_fraction(val_fraction)
    x, y = np.asarray(x), np.asarray(y)
    if task is None:
        task = "classification" if y.dtype.kind in "biu" else "regression"
    if task not in _TASKS:
        raise ValueError(f"task must be one of {_TASKS}, got {task!r}")
    if x.ndim == 0 or y.ndim == 0 or len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got shapes {x.shape} and {y.shape}")
    if len(x) < 2:
        raise ValueError(
            f"x needs at least 2 samples (one to train, one to validate), got {len(x)}"
        )
    if x.dtype.kind not in "biuf" or y.dtype.kind not in "biuf":
        raise ValueError(f"x and y must be numeric, got dtypes {x.dtype} and {y.dtype}")
    x = x.astype(np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if not np.isfinite(x).all():
        raise ValueError("x contains NaN or infinite values")
    n_classes = None
    if task == "classification":
        if y.ndim != 1 or not np.isfinite(y).all() or (y != np.round(y)).any() or (y < 0).any():
            raise ValueError("y must be 1-D non-negative integer labels for classification")
        top = int(y.max())
        if top >= MAX_CLASSES:  # before int32 (a huge label would wrap) and any one-hot
            raise ValueError(
                f"y: its largest label, {top}, makes {top + 1} classes (the output layer's "
                f"width); at most {MAX_CLASSES}: labels must be 0 .. n_classes - 1"
            )
        y = y.astype(np.int32)
        n_classes = top + 1
    else:
        y = y.astype(np.float32).reshape(len(y), -1)
        if not np.isfinite(y).all():
            raise ValueError("y contains NaN or infinite values")
    train, val = train_val_split(y, val_fraction, seed, stratify=task == "classification")
    x_train, x_val = x[train], x[val]
    standardization = None
    if standardize:
        mean, std = x_train.mean(axis=0), x_train.std(axis=0)
        # A feature whose spread is below float32 resolution is constant: dividing by its
        # (rounding-noise) std would blow that noise up, so it is only centered.
        scale = np.where(std > np.finfo(np.float32).eps * (1.0 + np.abs(mean)), std, 1.0)
        standardization = Standardization(mean, scale)
        x_train, x_val = standardization(x_train), standardization(x_val)
    return Dataset(
        x_train=jnp.asarray(x_train, jnp.float32),
        y_train=jnp.asarray(y[train]),
        x_val=jnp.asarray(x_val, jnp.float32),
        y_val=jnp.asarray(y[val]),
        task=task,
        n_classes=n_classes,
        name=name,
        standardization=standardization,
    )


def from_npz(path: str | os.PathLike[str], **kwargs) -> Dataset:
    """A :class:`Dataset` from a ``.npz`` file with arrays ``x`` and ``y``.

    Args:
        path: file written e.g. by ``np.savez(path, x=x, y=y)``.
        **kwargs: passed to :func:`from_arrays` (``task``, ``val_fraction``, ...).

    Returns:
        The dataset, named after the file unless ``name`` is given.

    Raises:
        ValueError: if the file is empty, damaged, not an ``.npz`` of numeric arrays, or
            lacks ``x`` or ``y`` (one line naming the file).
    """
    where, arrays, names = os.fspath(path), {}, []
    try:
        with open(path, "rb") as f:  # ours: numpy leaves its own open when it is no zip
            data = np.load(f, allow_pickle=False)  # never pickle: data must not run code
            if isinstance(data, np.lib.npyio.NpzFile):
                with data:
                    names = list(data)
                    arrays = {k: data[k] for k in ("x", "y") if k in data}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:  # EOFError: empty
        raise ValueError(f"{where}: not a readable .npz file of numeric arrays ({e})") from None
    missing = [k for k in ("x", "y") if k not in arrays]  # all: a single .npy array
    if missing:
        raise ValueError(f"{where} has no array {missing[0]!r}: it has {names}")
    x, y = arrays["x"], arrays["y"]
    kwargs.setdefault("name", os.path.splitext(os.path.basename(path))[0])
    return from_arrays(x, y, **kwargs)


def digits(
    val_fraction: float = 0.2, seed: int = 0, *, flatten: bool = True, standardize: bool = True
) -> Dataset:
    """scikit-learn's handwritten digits: 1797 8x8 grey images, 10 classes.

    The data ships inside the scikit-learn wheel; nothing is downloaded.

    Args:
        val_fraction: fraction of samples for validation (stratified by class).
        seed: seed of the split.
        flatten: inputs of 64 features for an MLP; ``False`` gives ``(8, 8, 1)`` images
            (height, width, channels) for a CNN.
        standardize: standardize each pixel with train statistics (the always-blank
            corner pixels are only centered).

    Returns:
        The dataset, named ``"digits"``.

    Raises:
        ImportError: if scikit-learn is missing, saying how to install it.

    Examples:
        >>> ds = digits()
        >>> ds.x_train.shape, ds.x_val.shape, ds.n_classes
        ((1438, 64), (359, 64), 10)
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        raise ImportError(
            'jaxtune.datasets.digits needs scikit-learn: pip install "jaxtune[data]"'
        ) from e
    bunch = load_digits()
    x = bunch.data if flatten else bunch.images[..., None]
    kwargs = {"val_fraction": val_fraction, "seed": seed, "standardize": standardize}
    return from_arrays(x, bunch.target, task="classification", name="digits", **kwargs)


def synthetic(
    n: int = 4096,
    task: TaskKind = "classification",
    seed: int = 0,
    *,
    n_classes: int = 3,
    turns: float = 0.75,
    noise: float = 0.05,
    n_noise_features: int = 8,
    val_fraction: float = 0.2,
) -> Dataset:
    """Noisy spirals in a plane, hidden among pure-noise features.

    Points lie at radius ``r ~ U(0.1, 1)`` and angle ``theta`` in the first two features;
    the other ``n_noise_features`` are standard normal noise the model must learn to
    ignore.

    - classification: ``n_classes`` spiral arms, ``theta = 2 pi (turns r + k / n_classes)``
      for class ``k``, plus Gaussian noise of std ``noise`` on both coordinates;
    - regression: ``theta ~ U(0, 2 pi)`` and the target is the spiral wave
      ``cos(theta - 2 pi turns r)`` plus Gaussian noise of std ``noise``, shape ``(n, 1)``.

    No linear model does well (about 50% accuracy for 3 arms, R^2 about 0.2). A 64x64
    ReLU MLP trained by Adam with batch 64 for 5 epochs reaches about 98% accuracy (R^2
    about 0.8) at learning rate 1e-2, but stays near the linear model at 1e-4.

    Args:
        n: number of samples, before the split.
        task: ``"classification"`` or ``"regression"``.
        seed: seeds both the data (numpy ``default_rng``) and the split.
        n_classes: number of arms (classification only), at least 2.
        turns: how far each arm winds around the centre; more turns is harder.
        noise: standard deviation of the noise, at least 0.
        n_noise_features: number of uninformative features, at least 0.
        val_fraction: fraction of samples for validation.

    Returns:
        The standardized dataset, named ``"spirals"``.

    Examples:
        >>> ds = synthetic(n=100, seed=1)
        >>> ds.x_train.shape, ds.n_classes
        ((80, 10), 3)
        >>> synthetic(n=100, task="regression").y_val.shape
        (20, 1)
    """
    if task not in _TASKS:
        raise ValueError(f"task must be one of {_TASKS}, got {task!r}")
    if n_classes < 2:
        raise ValueError(f"n_classes must be at least 2, got {n_classes}")
    if noise < 0 or n_noise_features < 0:
        raise ValueError(
            f"noise and n_noise_features must be >= 0, got {noise}, {n_noise_features}"
        )
    rng = np.random.default_rng(seed)
    r = rng.uniform(0.1, 1.0, n)
    if task == "classification":
        y = rng.integers(0, n_classes, n)
        theta = 2 * np.pi * (turns * r + y / n_classes)
        plane = np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)
        plane += noise * rng.standard_normal((n, 2))
    else:
        theta = rng.uniform(0.0, 2 * np.pi, n)
        plane = np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)
        y = np.cos(theta - 2 * np.pi * turns * r) + noise * rng.standard_normal(n)
    x = np.concatenate([plane, rng.standard_normal((n, n_noise_features))], axis=1)
    return from_arrays(x, y, task=task, val_fraction=val_fraction, seed=seed, name="spirals")
