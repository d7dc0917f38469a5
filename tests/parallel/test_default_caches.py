"""A sweep turns on the compilation and calibration caches by default, as the command
line does; ``Sweep(cache=False)`` and ``JAXTUNE_NO_CACHE=1`` turn them off."""

from __future__ import annotations

import pytest

import jaxtune
from jaxtune import parallel
from jaxtune.parallel import default_caches


@pytest.fixture
def recorded(monkeypatch, tmp_path):
    """The caches' switches, recorded instead of turned (the suite's own stay as they are)."""
    calls = []
    monkeypatch.delenv("JAXTUNE_NO_CACHE", raising=False)
    monkeypatch.setenv("JAXTUNE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(default_caches, "enable_compilation_cache", lambda p: calls.append(p))
    monkeypatch.setattr(default_caches, "calibration_cache_dir", lambda: None)
    monkeypatch.setattr(default_caches, "enable_calibration_cache", lambda: calls.append("cal"))
    return calls


def _sweep(tmp_path, **kw):
    space = jaxtune.Space(learning_rate=jaxtune.LogUniform(0.01, 0.5))
    task = jaxtune.Task(dataset="synthetic", epochs=1)
    return jaxtune.Sweep(space, task, 2, store=str(tmp_path / "s"), quiet=True, **kw)


def test_a_sweep_turns_both_caches_on_by_default(tmp_path, recorded, monkeypatch):
    monkeypatch.setattr(default_caches, "configured_folder", lambda: None)
    sweep = _sweep(tmp_path)
    assert sweep.cache is True
    sweep.run()
    assert recorded[0] == str(tmp_path / "cache") and "cal" in recorded


def test_a_compilation_cache_jax_already_uses_is_kept(tmp_path, recorded, monkeypatch):
    monkeypatch.setattr(default_caches, "configured_folder", lambda: "/somewhere/else")
    _sweep(tmp_path).run()
    assert recorded == ["cal"]  # the user's own compilation cache stays


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_caches_turned_off(tmp_path, recorded, monkeypatch, how):
    if how == "environment":
        monkeypatch.setenv("JAXTUNE_NO_CACHE", "1")
    sweep = _sweep(tmp_path, **({"cache": False} if how == "argument" else {}))
    assert sweep.cache is False
    sweep.run()
    assert recorded == []


def test_an_unsafe_folder_is_not_used_and_said_once(tmp_path, recorded, monkeypatch, caplog):
    monkeypatch.setattr(default_caches, "configured_folder", lambda: None)
    shared = tmp_path / "cache"
    shared.mkdir()
    shared.chmod(0o777)
    _sweep(tmp_path).run()
    assert recorded == ["cal"]
    lines = [r.getMessage() for r in caplog.records if "compilation cache" in r.getMessage()]
    assert len(lines) == 1 and "writable by every user" in lines[0]


def test_a_bad_cache_argument_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"cache must be True, False or None, got 'yes'"):
        _sweep(tmp_path, cache="yes")
    assert not (tmp_path / "s").exists()


def test_the_switch_reads_the_environment(monkeypatch):
    for value, off in (("", False), ("0", False), ("1", True), ("yes", True)):
        monkeypatch.setenv("JAXTUNE_NO_CACHE", value)
        assert parallel.caches_off() is off
