"""Strict test settings shared by every test module.

Warnings are errors (see ``filterwarnings`` in pyproject.toml). Exceptions are listed
here by name, each with the reason it is harmless.
"""

import contextlib
import os
import stat
import tempfile

# Plots in tests never open a window.
os.environ.setdefault("MPLBACKEND", "Agg")

# One persistent XLA cache for the whole run, set before jax is imported, so that the test
# workers, the commands and notebook kernels they start, and Ray actors all inherit it:
# tests build many identical tiny programs in separate processes, and compiling them is
# most of the suite's time. Entries are keyed by jax version, program and flags, so a
# later run (another checkout, another jax) can share the folder safely.
# The folder holds code (compiled programs): it is this user's own, mode 0700, checked
# for its owner; a folder (or link) someone else made under that name is not used (a
# fresh private one is, for this run).


def _private_cache_dir() -> str:
    folder = os.path.join(tempfile.gettempdir(), f"jaxtune-tests-xla-{os.getuid()}")
    with contextlib.suppress(FileExistsError):
        os.mkdir(folder, 0o700)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():  # planted: a link,
        return tempfile.mkdtemp(prefix="jaxtune-tests-xla-")  # a file, another user's
    if stat.S_IMODE(info.st_mode) & 0o077:  # ours, made before this check: private now
        os.chmod(folder, 0o700)
    return folder


if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _private_cache_dir()
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
# Compiling is most of a cold run (CI may start with an empty cache): LLVM's level 1
# instead of 3 took a cold run from 1110 s to 830 s on 2 cores. Tests compare programs
# built with the same flags (children inherit them); none checks a speed.
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=1"
    ).strip()
# A sweep (Python API and command line) keeps its caches on disk by default, in
# $JAXTUNE_CACHE_DIR: in tests that is the suite's own private folder too (compiled
# programs there, chunk-size decisions under calibration/), never ~/.cache.
os.environ.setdefault("JAXTUNE_CACHE_DIR", os.environ["JAX_COMPILATION_CACHE_DIR"])

import jax  # noqa: E402 (after the cache folder is set: jax reads it at import)
import pytest  # noqa: E402

# Implicit rank promotion hides shape bugs in batched code: make it an error.
jax.config.update("jax_numpy_rank_promotion", "raise")

JUSTIFIED_WARNINGS: tuple[str, ...] = (
    # None yet. Add "ignore:<message regex>:<Category>" entries with a reason.
)


def pytest_configure(config: pytest.Config) -> None:
    for spec in JUSTIFIED_WARNINGS:
        config.addinivalue_line("filterwarnings", spec)


@pytest.fixture
def key() -> jax.Array:
    """A fixed PRNG key, so every test is reproducible."""
    return jax.random.key(0)


def _blobs_npz(path, n: int, spread: float, seed: int) -> str:
    """Write ``n`` samples of 3 Gaussian blobs in 6 features as an ``.npz`` (x, y)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(3, 6)) * spread
    y = rng.integers(0, 3, n)
    x = centers[y] + rng.normal(size=(n, 6))
    np.savez(path, x=x.astype(np.float32), y=y)
    return str(path)


@pytest.fixture(scope="session")
def tiny_npz(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small 3-class dataset file (x, y), so sweep tests train in milliseconds."""
    return _blobs_npz(tmp_path_factory.mktemp("data") / "tiny.npz", 300, 2.0, seed=0)


@pytest.fixture(scope="session")
def medium_npz(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Enough data that a chunk of 4 trials takes a noticeable time, so a kill lands
    mid-sweep on a fast machine too."""
    return _blobs_npz(tmp_path_factory.mktemp("data") / "medium.npz", 2500, 1.5, seed=1)


@pytest.fixture(autouse=True)
def calibration_cache_off_in_engine_tests(request: pytest.FixtureRequest):
    """The engine's tests (tests/parallel/) watch calibrations happen and read the cache's
    state themselves: no decision read from disk unless a test turns the cache on (a sweep
    run earlier in the same worker turns the default one on); the earlier state after."""
    if "parallel" not in request.node.path.parent.parts:
        yield
        return
    from jaxtune import parallel

    before = parallel.calibration_cache_dir()
    parallel.disable_calibration_cache()
    yield
    parallel.disable_calibration_cache()
    if before is not None:
        parallel.enable_calibration_cache(before)
