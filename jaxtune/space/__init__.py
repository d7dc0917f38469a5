"""Search spaces on the right scale (layer 2): dimensions, the Space and its samplers.

A :class:`Space` names its dimensions and draws sample sets, one array of shape ``(n,)``
per name, ready for ``jax.vmap``: random, grid, quasi-random and coarse-to-fine zoom.
"""

from jaxtune.space.dimensions import Dimension, Fixed, LogUniform, OneMinusLogUniform, Uniform
from jaxtune.space.discrete import DIMENSION_TYPES, Choice, IntUniform, as_dimension
from jaxtune.space.samplers import MAX_GRID_SIZE
from jaxtune.space.space import Samples, Space

__all__ = [
    "DIMENSION_TYPES",
    "MAX_GRID_SIZE",
    "Choice",
    "Dimension",
    "Fixed",
    "IntUniform",
    "LogUniform",
    "OneMinusLogUniform",
    "Samples",
    "Space",
    "Uniform",
    "as_dimension",
]
