"""Import paths ``"package.module:attribute"``: how a config file names user code.

A TOML config names a model, a dataset or an optimizer factory by an import path, e.g.
``model = "mypkg.nets:ConvNet"``; :func:`load_object` imports the module and returns the
attribute, or raises a ``ValueError`` that names the config key.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["is_import_path", "load_object"]


def is_import_path(text: Any) -> bool:
    """Whether ``text`` has the form ``module:attribute`` (both parts non-empty).

    Example:
        >>> is_import_path("mypkg.nets:ConvNet"), is_import_path("digits")
        (True, False)
    """
    if not isinstance(text, str) or text.count(":") != 1:
        return False
    module, attr = text.split(":")
    return all(p.isidentifier() for p in module.split(".")) and all(
        p.isidentifier() for p in attr.split(".")
    )


def load_object(path: str, *, where: str) -> Any:
    """The object an import path names.

    Args:
        path: ``"package.module:attribute"``; the attribute may be dotted
            (``"mod:Class.factory"``).
        where: the config key, for messages (``"task.model"``).

    Returns:
        The attribute.

    Raises:
        ValueError: naming ``where`` and ``path``: a malformed path, a module that
            does not import, or a missing attribute.

    Example:
        >>> load_object("jaxtune.train.models:CNN", where="task.model").__name__
        'CNN'
        >>> load_object("jaxtune.train.models:Nothing", where="task.model")
        Traceback (most recent call last):
        ...
        ValueError: task.model: module 'jaxtune.train.models' has no attribute 'Nothing'
    """
    if not is_import_path(path):
        raise ValueError(f"{where}: {path!r} is not an import path 'package.module:attribute'")
    module_name, attr = path.split(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as e:  # an ImportError, or the module's own error while importing
        raise ValueError(
            f"{where}: cannot import {module_name!r} ({type(e).__name__}: {e})"
        ) from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"{where}: module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj
