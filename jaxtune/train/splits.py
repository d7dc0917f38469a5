"""Deterministic train/validation splits, stratified by class on request."""

from __future__ import annotations

import numpy as np

__all__ = ["check_val_fraction", "train_val_split"]


def train_val_split(
    y: np.ndarray, val_fraction: float = 0.2, seed: int = 0, *, stratify: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic train/validation split of ``len(y)`` samples.

    The validation part holds ``round(val_fraction * n)`` samples, at least one and
    leaving at least one for training. With ``stratify=True`` each class keeps its
    proportion in both parts up to one sample: samples are shuffled, ranked within
    their class, and the validation part takes the lowest relative ranks.

    Args:
        y: ``(n, ...)`` targets; with ``stratify=True``, ``(n,)`` integer labels.
        val_fraction: fraction of samples for validation, in ``(0, 1)``.
        seed: the split is a pure function of ``seed`` (numpy ``default_rng``).
        stratify: keep class proportions.

    Returns:
        ``(train_idx, val_idx)``: sorted, disjoint int arrays covering ``range(n)``.

    Examples:
        >>> train, val = train_val_split(np.array([0, 0, 0, 0, 1, 1, 1, 1]), 0.5, stratify=True)
        >>> np.bincount(np.array([0, 0, 0, 0, 1, 1, 1, 1])[val]).tolist()
        [2, 2]
    """
    check_val_fraction(val_fraction)
    n = len(y)
    if n < 2:
        raise ValueError(f"need at least 2 samples to split, got {n}")
    n_val = min(max(round(val_fraction * n), 1), n - 1)
    perm = np.random.default_rng(seed).permutation(n)
    if stratify:
        labels = np.asarray(y)[perm]
        by_class = np.argsort(labels, kind="stable")
        sorted_labels = labels[by_class]
        # Rank of each shuffled sample within its class, as a fraction of the class size:
        # taking the lowest fractions takes about the same share of every class.
        rank = np.arange(n) - np.searchsorted(sorted_labels, sorted_labels, side="left")
        counts = np.unique(sorted_labels, return_counts=True)[1]
        size = np.repeat(counts, counts)
        relative = np.empty(n)
        relative[by_class] = (rank + 0.5) / size
        perm = perm[np.argsort(relative, kind="stable")]
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def check_val_fraction(val_fraction: float) -> None:
    """``ValueError`` unless ``0 < val_fraction < 1``.

    Examples:
        >>> check_val_fraction(0.2)
        >>> check_val_fraction(1.0)
        Traceback (most recent call last):
        ...
        ValueError: val_fraction must be in (0, 1), got 1.0
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
