"""Import paths ``"package.module:attribute"``: how a config file names user code.

A TOML config names a model, a dataset or an optimizer factory by an import path, e.g.
``model = "mypkg.nets:ConvNet"``; :func:`load_object` imports the module and returns the
attribute, or raises a ``ValueError`` that names the config key.

An import path is code: importing a module runs it, and the object it names is called
(``model = "subprocess:getoutput"`` with a ``[model]`` table would run a shell command).
So where import paths come from data (a config file or a store someone hands you), the
``jaxtune`` command loads them only from the packages its command line names
(``--allow-import PACKAGE``): :func:`allowed_imports` sets that rule for a block of code,
and :func:`load_object` refuses any other path *before* importing anything. Python code
that builds a :class:`jaxtune.Task` itself is trusted as it is, and has no rule.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["allowed_imports", "check_allowed", "is_import_path", "load_object"]

# None: no rule (Python code, trusted); a tuple: the packages import paths may come from.
_ALLOWED: contextvars.ContextVar[tuple[str, ...] | None] = contextvars.ContextVar(
    "jaxtune_allowed_imports", default=None
)


@contextlib.contextmanager
def allowed_imports(packages: Iterable[str]) -> Iterator[None]:
    """Within the block, :func:`load_object` loads import paths from ``packages`` only.

    Args:
        packages: package or module names (``"mypkg"`` allows ``mypkg`` and
            ``mypkg.nets``); empty: no import path at all.

    Examples:
        >>> with allowed_imports(["jaxtune"]):
        ...     load_object("jaxtune.train.models:CNN", where="task.model").__name__
        'CNN'
        >>> with allowed_imports([]):
        ...     load_object("subprocess:getoutput", where="task.model")
        Traceback (most recent call last):
        ...
        ValueError: task.model: 'subprocess:getoutput' is an import path: loading it ...
    """
    names = tuple(str(p).strip() for p in packages)
    for name in names:
        if not name or not all(part.isidentifier() for part in name.split(".")):
            raise ValueError(f"--allow-import: {name!r} is not a package or module name")
    token = _ALLOWED.set(names)
    try:
        yield
    finally:
        _ALLOWED.reset(token)


def check_allowed(path: str, *, where: str) -> None:
    """Refuse ``path`` unless the current rule (:func:`allowed_imports`) allows its module.

    Raises:
        ValueError: one line naming ``where``, the path and the flag that allows it.
    """
    allowed = _ALLOWED.get()
    if allowed is None:
        return
    module = path.split(":")[0]
    if any(module == p or module.startswith(p + ".") for p in allowed):
        return
    top = module.split(".")[0]
    raise ValueError(
        f"{where}: {path!r} is an import path: loading it runs code of module {module!r}; "
        f"import paths in a config or a store are trusted input: pass --allow-import {top} "
        "if you trust it"
    )


def is_import_path(text: Any) -> bool:
    """Whether ``text`` has the form ``module:attribute`` (both parts non-empty).

    Examples:
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
            does not import, a missing attribute, or a module the current rule does not
            allow (:func:`allowed_imports`).

    Examples:
        >>> load_object("jaxtune.train.models:CNN", where="task.model").__name__
        'CNN'
        >>> load_object("jaxtune.train.models:Nothing", where="task.model")
        Traceback (most recent call last):
        ...
        ValueError: task.model: module 'jaxtune.train.models' has no attribute 'Nothing'
    """
    if not is_import_path(path):
        raise ValueError(f"{where}: {path!r} is not an import path 'package.module:attribute'")
    check_allowed(path, where=where)  # before importing anything
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
