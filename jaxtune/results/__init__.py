"""What a sweep found (layer 6): tables, curves, importance, plots. Reads a store only.

``results`` (:class:`Results`, :func:`load`), ``analysis`` (importance and Optuna export,
``jaxtune[importance]``), ``plots`` and its ``axes`` helpers (``jaxtune[plots]``).
"""

from jaxtune.results import analysis, plots
from jaxtune.results.results import Results, load

__all__ = ["Results", "analysis", "load", "plots"]
