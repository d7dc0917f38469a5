"""The engine's tests watch calibrations happen and read the cache's state themselves."""

import pytest

from jaxtune import parallel


@pytest.fixture(autouse=True)
def calibration_cache_off():
    """No chunk-size decision read from disk unless a test turns the cache on (a sweep run
    earlier in the same worker turns the default one on); the earlier state afterwards."""
    before = parallel.calibration_cache_dir()
    parallel.disable_calibration_cache()
    yield
    parallel.disable_calibration_cache()
    if before is not None:
        parallel.enable_calibration_cache(before)
