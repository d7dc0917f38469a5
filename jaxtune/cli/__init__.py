"""The ``jaxtune`` command: run, resume, zoom, show and plot sweeps.

::

    jaxtune sweep [CONFIG.toml] [--trials N] [--dataset digits|synthetic|PATH.npz]
                  [--out runs/NAME] [--seed S] [--batch B]
                  [--sampler random|grid|quasi_random|tpe|cmaes|gp]
                  [--backend local|ray]
    jaxtune show runs/NAME [--top K]
    jaxtune resume runs/NAME
    jaxtune zoom runs/NAME [--top-k K] [--trials N]
    jaxtune plot runs/NAME [--out DIR]
    jaxtune lr-find [CONFIG.toml] [--out DIR] [--steps N] [--min-lr A] [--max-lr B]
    jaxtune ls [FOLDER]
    jaxtune rm runs/NAME [--yes]
    jaxtune --version

``sweep``, ``resume`` and ``zoom`` also take ``--tensorboard LOGDIR`` and ``--mlflow URI``
(:mod:`jaxtune.loggers`). A missing optional package ends the command with status 1 and
one line naming its extra.

Bad input (an unknown key, a bad range, a wrong type, a missing file, an unknown dataset,
the store of another sweep, a store in use) exits with status 2 and one line naming the
key or file. See ``examples/sweep.toml`` for a config file.

Modules: ``command`` (the parser, ``main``, the subcommands), ``config`` (config files and
argument types), ``sampler`` (``--sampler``, ``--batch``, ``[sampler]``), ``lr_find``
and ``stores`` (``ls``, ``rm``).
"""

from jaxtune.cli.command import main

__all__ = ["main"]
