"""What one Ray actor asks for, checked against what a local Ray instance has."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["check_fits"]

RAY_NAMES = {"num_cpus": "CPU", "num_gpus": "GPU", "memory": "memory"}


def check_fits(resources: Mapping[str, Any], total: Mapping[str, float]) -> None:
    """Refuse what one actor needs and the cluster lacks: Ray would wait for it forever.

    Args:
        resources: one actor's options (``num_cpus``, ``num_gpus``, ``memory``,
            ``resources``).
        total: ``ray.cluster_resources()`` of a cluster that will not grow.

    Raises:
        ValueError: naming ``resources``, what is missing and what to use instead.

    Examples:
        >>> check_fits({"num_cpus": 1}, {"CPU": 2.0})
        >>> check_fits({"num_gpus": 1}, {"CPU": 2.0})
        Traceback (most recent call last):
        ...
        ValueError: resources={'num_gpus': 1}: one actor needs 1 GPU but this Ray ...
    """
    wanted = {RAY_NAMES[k]: v for k, v in resources.items() if k in RAY_NAMES}
    wanted.update(resources.get("resources") or {})
    for name, need in wanted.items():
        if need and total.get(name, 0) < need:
            raise ValueError(
                f"resources={dict(resources)!r}: one actor needs {need:g} {name} but this Ray "
                f"instance has {total.get(name, 0):g} (it would wait forever); leave "
                "resources out (one GPU per actor where there are GPUs, else one CPU) or "
                "use resources={'num_cpus': 1}"
            )
