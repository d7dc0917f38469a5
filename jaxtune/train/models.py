"""Models whose size can be a per-trial, traced hyperparameter.

The model interface (:class:`Model`) the trainer uses is Flax linen's own::

    params = model.init(key, x, **arch)  # x: (batch, *input_shape)
    out = model.apply(params, x, **arch)  # out: (batch, n_out)

``arch`` holds the *masked* hyperparameters of a trial, as keyword arguments that may
be traced integers (so a vmapped sweep gives each lane its own values): ``hidden=`` and
``layers=`` for :class:`MLP`, nothing for fixed architectures. Hence every Flax linen
module with a fixed architecture is already a :class:`Model` (called with an empty
``arch``), and so is a plain pair of functions wrapped by :func:`as_model`. ``params``
is any pytree; for linen modules it is the variables dict ``{"params": ...}``.

:class:`MLP` is padded to ``max_hidden`` units and ``max_layers`` layers and masked, so
that a trial with ``hidden=h, layers=l`` computes *exactly* what a plain ``h``-wide,
``l``-deep MLP computes, with the same initial distribution (active fan-in), the same
gradients on the active weights and zero gradients on the others. :func:`active_params`
cuts that smaller network out of the padded parameters. A masked trial still costs the
FLOPs of the padded network: the sweep pads to the largest size it samples, not beyond.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol, runtime_checkable

import flax.linen as nn
import jax
import jax.numpy as jnp

__all__ = ["CNN", "MLP", "FunctionalModel", "Model", "active_params", "as_model"]

Params = Any  # a pytree of arrays
Activation = Callable[[jax.Array], jax.Array]

# Standard deviation of a standard normal truncated to [-2, 2]: dividing by it gives the
# truncated draw the requested std, as in flax's lecun_normal.
_TRUNCATED_STD = 0.87962566103423978


@runtime_checkable
class Model(Protocol):
    """What the trainer needs of a model: linen-style ``init`` and ``apply``.

    ``arch`` keyword arguments are the trial's masked hyperparameters (may be traced);
    a fixed architecture takes none.
    """

    def init(self, key: jax.Array, x: jax.Array, **arch: Any) -> Params: ...

    def apply(self, params: Params, x: jax.Array, **arch: Any) -> jax.Array: ...


class FunctionalModel(NamedTuple):
    """A :class:`Model` made of two plain functions (see :func:`as_model`)."""

    init: Callable[..., Params]  # (key, x, **arch) -> params
    apply: Callable[..., jax.Array]  # (params, x, **arch) -> (batch, n_out)


def as_model(init: Callable[..., Params], apply: Callable[..., jax.Array]) -> FunctionalModel:
    """Wraps an ``(init, apply)`` pair of pure functions as a :class:`Model`.

    Args:
        init: ``init(key, x, **arch) -> params``; ``x`` is an example batch.
        apply: ``apply(params, x, **arch) -> outputs`` of shape ``(batch, n_out)``.

    Returns:
        A hashable model (a NamedTuple), usable as a static argument of ``jit``.

    Examples:
        >>> linear = as_model(
        ...     lambda key, x: {"w": jax.random.normal(key, (x.shape[1], 3))},
        ...     lambda params, x: x @ params["w"],
        ... )
        >>> x = jnp.ones((5, 4))
        >>> linear.apply(linear.init(jax.random.key(0), x), x).shape
        (5, 3)
    """
    if not (callable(init) and callable(apply)):
        raise TypeError("as_model needs two callables, init and apply")
    return FunctionalModel(init, apply)


def _masked_lecun_normal(
    key: jax.Array, shape: tuple[int, int], fan_in: jax.Array | int, mask: jax.Array
) -> jax.Array:
    """lecun_normal computed from a traced, active ``fan_in``; zero where ``mask`` is 0.

    A normal truncated to two standard deviations, scaled to std ``sqrt(1 / fan_in)``:
    where ``fan_in`` equals the padded fan-in this is exactly flax's default
    ``lecun_normal``. The std is a jnp expression, so ``fan_in`` may vary per trial.
    """
    w = jax.random.truncated_normal(key, -2.0, 2.0, shape, jnp.float32)
    return w * (jnp.sqrt(1.0 / fan_in) / _TRUNCATED_STD) * mask


class _MaskedDense(nn.Module):
    """A dense layer whose initial kernel is masked and scaled by the active fan-in."""

    features: int

    @nn.compact
    def __call__(self, x: jax.Array, fan_in: jax.Array | int, mask: jax.Array) -> jax.Array:
        # mask: (in, out), the initially non-zero kernel entries. It matters only at init:
        # in the forward pass the MLP masks activations, which is what makes gradients of
        # the inactive entries exactly zero.
        shape = (x.shape[-1], self.features)
        kernel = self.param("kernel", _masked_lecun_normal, shape, fan_in, mask)
        bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
        return x @ kernel + bias[None, :]


class MLP(nn.Module):
    """An MLP whose width and depth are per-trial, possibly traced, hyperparameters.

    Padded to ``max_layers`` hidden layers of ``max_hidden`` units; a call with
    ``hidden=h, layers=l`` (``1 <= h <= max_hidden``, ``1 <= l <= max_layers``) masks it
    down to exactly an ``l``-deep, ``h``-wide MLP:

    - units ``>= h`` of every hidden layer are multiplied by 0 after the activation;
    - a hidden layer with index ``>= l`` is the identity (``jnp.where``), so the output
      layer reads the last active hidden layer;
    - at init, kernels are truncated normal with std ``sqrt(1 / active fan-in)`` (the
      input dimension for layer 0, ``h`` afterwards, see :func:`_masked_lecun_normal`),
      biases zero, and every inactive weight zero.

    Inactive weights never influence the outputs and get exactly zero gradients, so
    training never moves them. Parameter shapes do not depend on ``h`` or ``l``: trials
    of different sizes vmap together. Names follow a plain ``nn.Dense`` stack
    (``hidden_0 .. hidden_{max_layers-1}``, ``output``), see :func:`active_params`.

    Attributes:
        max_hidden: units of the padded hidden layers (static).
        max_layers: number of padded hidden layers (static).
        n_out: output width, e.g. the number of classes (static).
        activation: hidden activation, ``nn.relu`` by default.

    Examples:
        >>> model = MLP(max_hidden=64, max_layers=4, n_out=10)
        >>> x = jax.random.normal(jax.random.key(1), (3, 16))
        >>> params = model.init(jax.random.key(0), x, hidden=24, layers=2)
        >>> model.apply(params, x, hidden=24, layers=2).shape
        (3, 10)
        >>> float(jnp.abs(params["params"]["hidden_2"]["kernel"]).max())  # inactive layer
        0.0
    """

    max_hidden: int
    max_layers: int
    n_out: int
    activation: Activation = nn.relu

    @nn.compact
    def __call__(
        self,
        x: jax.Array,
        hidden: jax.Array | int | None = None,
        layers: jax.Array | int | None = None,
    ) -> jax.Array:
        """Applies the MLP masked down to ``hidden`` units and ``layers`` layers.

        Args:
            x: ``(batch, *input_shape)`` inputs, flattened to ``(batch, features)``.
            hidden: active units per hidden layer, a scalar int that may be traced;
                ``max_hidden`` by default.
            layers: active hidden layers, a scalar int that may be traced;
                ``max_layers`` by default.

        Returns:
            ``(batch, n_out)`` outputs, e.g. logits.
        """
        hidden = self.max_hidden if hidden is None else hidden
        layers = self.max_layers if layers is None else layers
        # Only concrete Python ints can be checked here; traced values are validated
        # where they are sampled (the search space).
        for arg, value, top in (
            ("hidden", hidden, self.max_hidden),
            ("layers", layers, self.max_layers),
        ):
            if isinstance(value, int) and not 1 <= value <= top:
                raise ValueError(f"{arg} must be in [1, {top}], got {value}")
        x = x.reshape(x.shape[0], -1)
        unit_mask = (jnp.arange(self.max_hidden) < hidden).astype(x.dtype)  # (max_hidden,)
        ones_in = jnp.ones(x.shape[-1], x.dtype)
        h = x
        for i in range(self.max_layers):
            active = i < layers  # layer 0 is always active, as layers >= 1
            in_mask, fan_in = (ones_in, x.shape[-1]) if i == 0 else (unit_mask, hidden)
            init_mask = in_mask[:, None] * (unit_mask * active)[None, :]
            dense = _MaskedDense(self.max_hidden, name=f"hidden_{i}")
            new = self.activation(dense(h, fan_in, init_mask)) * unit_mask[None, :]
            h = new if i == 0 else jnp.where(active, new, h)
        out_mask = unit_mask[:, None] * jnp.ones((1, self.n_out), x.dtype)
        return _MaskedDense(self.n_out, name="output")(h, hidden, out_mask)


def active_params(params: Params, hidden: int, layers: int) -> Params:
    """Cuts the active ``hidden``-wide, ``layers``-deep network out of :class:`MLP` params.

    The result holds the parameters of ``MLP(max_hidden=hidden, max_layers=layers,
    n_out=...)`` (the same activation), which is then exactly a plain MLP, and equally
    of a plain stack of ``nn.Dense`` named ``hidden_0``, ... and ``output``. Both give
    the same outputs as the padded model called with ``hidden=hidden, layers=layers``.

    Args:
        params: the variables of an :class:`MLP`, ``{"params": ...}``; leaves may carry
            leading batch (trial) axes, all trials sharing ``hidden`` and ``layers``.
        hidden: the trial's width, a concrete int.
        layers: the trial's depth, a concrete int.

    Returns:
        The smaller network's variables ``{"params": ...}``.

    Examples:
        >>> padded = MLP(max_hidden=64, max_layers=4, n_out=10)
        >>> x = jax.random.normal(jax.random.key(1), (3, 16))
        >>> params = padded.init(jax.random.key(0), x, hidden=24, layers=2)
        >>> small = MLP(max_hidden=24, max_layers=2, n_out=10)
        >>> y_small = small.apply(active_params(params, 24, 2), x)
        >>> bool(jnp.allclose(y_small, padded.apply(params, x, hidden=24, layers=2)))
        True
    """
    p = params["params"]
    n_hidden = sum(name.startswith("hidden_") for name in p)
    if not 1 <= layers <= n_hidden or not 1 <= hidden <= p["output"]["kernel"].shape[-2]:
        raise ValueError(f"hidden={hidden}, layers={layers} do not fit these params")
    small = {
        f"hidden_{i}": {
            # Layer 0 keeps every input row; later layers keep the active rows too.
            "kernel": p[f"hidden_{i}"]["kernel"][..., : (None if i == 0 else hidden), :hidden],
            "bias": p[f"hidden_{i}"]["bias"][..., :hidden],
        }
        for i in range(layers)
    }
    small["output"] = {
        "kernel": p["output"]["kernel"][..., :hidden, :],
        "bias": p["output"]["bias"],
    }
    return {"params": small}


class _Conv(nn.Module):
    """A stride-1 ``SAME`` convolution computed as one matmul over shifted copies of ``x``.

    The same parameters (``kernel`` ``(k, k, in, out)``, lecun_normal; ``bias``) and the
    same result as ``nn.Conv``. Why not ``nn.Conv``: on CPU, XLA's convolution and its
    backward pass, and more so their vmapped (grouped) form, trained the 8x8 digits CNN
    20-30 times slower per step than this matmul in our measurements.
    """

    features: int
    kernel_size: int = 3

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        k = self.kernel_size
        shape = (k, k, x.shape[-1], self.features)
        kernel = self.param("kernel", nn.initializers.lecun_normal(), shape)
        bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
        h, w = x.shape[1:3]
        lo, hi = (k - 1) // 2, k // 2  # XLA's SAME padding
        padded = jnp.pad(x, ((0, 0), (lo, hi), (lo, hi), (0, 0)))
        # (batch, H, W, k * k * in), features ordered (row, column, channel) as in kernel.
        patches = jnp.concatenate(
            [padded[:, i : i + h, j : j + w] for i in range(k) for j in range(k)], axis=-1
        )
        return patches @ kernel.reshape(-1, self.features) + bias[None, None, None, :]


class CNN(nn.Module):
    """A small convolutional network for ``(H, W, C)`` images, e.g. 8x8x1 digits.

    ``kernel_size`` x ``kernel_size`` convolutions (stride 1, ``SAME`` padding) with
    ``channels`` filters, each followed by the activation, then flatten and a dense layer
    to ``n_out``. Parameters are named and shaped as for ``nn.Conv`` layers ``conv_0``,
    ``conv_1``, ... and an ``nn.Dense`` named ``output``; the convolutions are computed
    as matmuls, which is much faster on CPU (see :class:`_Conv`). The architecture is
    static: a sweep over ``channels`` compiles one program per value. With the defaults
    and Adam at 1e-3, 10 epochs reach about 97% validation accuracy on :func:`digits`.

    Attributes:
        n_out: output width, e.g. the number of classes.
        channels: filters of each convolution.
        kernel_size: height and width of the convolution windows.
        activation: activation after each convolution, ``nn.relu`` by default.

    Examples:
        >>> cnn = CNN(n_out=10)
        >>> x = jnp.ones((2, 8, 8, 1))
        >>> cnn.apply(cnn.init(jax.random.key(0), x), x).shape
        (2, 10)
    """

    n_out: int
    channels: Sequence[int] = (16, 32)
    kernel_size: int = 3
    activation: Activation = nn.relu

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Applies the network.

        Args:
            x: ``(batch, H, W, C)`` images.

        Returns:
            ``(batch, n_out)`` outputs, e.g. logits.
        """
        for i, c in enumerate(self.channels):
            x = self.activation(_Conv(c, self.kernel_size, name=f"conv_{i}")(x))
        # Flatten rather than pool: at 8x8 the position of a stroke is most of the signal.
        return nn.Dense(self.n_out, name="output")(x.reshape(x.shape[0], -1))
