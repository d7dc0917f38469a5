"""Shared by the tests of jaxtune.space: the sample count and a space of every kind."""

from jaxtune.space import Choice, Fixed, IntUniform, LogUniform, OneMinusLogUniform, Space, Uniform

N = 10_000  # samples for the distribution checks: a share has std <= 0.5 / sqrt(N) = 0.005


def full_space():
    """A space with every kind of dimension."""
    return Space(
        lr=LogUniform(1e-4, 1.0),
        beta=OneMinusLogUniform(0.9, 0.999),
        dropout=Uniform(0.0, 0.5),
        units=IntUniform(16, 256),
        layers=IntUniform(1, 64, log=True),
        opt=Choice(["sgd", "momentum", "adam"]),
        batch=Choice([32, 64, 128]),
        wd=Choice([0.0, 1e-4]),
        eps=Fixed(1e-8),
        epochs=Fixed(10),
        act=Fixed("relu"),
    )
