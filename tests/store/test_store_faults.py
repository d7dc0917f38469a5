"""The store under faults that need another process: SIGKILL, a full disk, a read-only folder.

Each child imports the store alone (stdlib only, no JAX), so it starts in ~50 ms. Nothing
committed may be lost, and nothing half-written may poison what is read or resumed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from jaxtune.store import Store, StoreNotStartedError, TrialRecord

JAXTUNE = Path(__file__).resolve().parents[2] / "jaxtune"
PRELUDE = f"""
import os, signal, sys, types
pkg = types.ModuleType("jaxtune")
pkg.__path__ = [{str(JAXTUNE)!r}]
sys.modules["jaxtune"] = pkg
from jaxtune.store import Store, StoreError, TrialRecord
ROUND0 = dict(space={{}}, n_trials=10**6, sampler="random", seed=0)

def chunk(first, n=8):
    curves = {{"val_loss": [0.5] * 100}}
    return [TrialRecord(i, 0, "", {{"lr": 0.1}}, "ok", 0, {{"val_loss": 0.5}}, curves)
            for i in range(first, first + n)]
"""


def _child(code: str, *prefix: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [*prefix, sys.executable, "-c", PRELUDE + code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def _run(code: str, *prefix: str) -> str:
    out, err = _child(code, *prefix).communicate(timeout=60)
    assert not err, err
    return out


def _expected(n: int) -> list[TrialRecord]:
    final, curves = {"val_loss": 0.5}, {"val_loss": [0.5] * 100}
    return [TrialRecord(i, 0, "", {"lr": 0.1}, "ok", 0, final, curves) for i in range(n)]


def _trials_of(path: Path) -> list[TrialRecord]:
    reader = Store.read(path)
    try:
        return reader.trials()
    finally:
        reader.close()


# ----------------------------------------------------------------- 1. a crash before start


def test_a_store_killed_before_its_start_is_new_not_finished(tmp_path) -> None:
    path = tmp_path / "run"
    out = _run(f"s = Store.open({str(path)!r}); os.kill(os.getpid(), signal.SIGKILL)")
    assert out == "" and (path / "lock").exists() and (path / "sweep.db").exists()
    with pytest.raises(StoreNotStartedError, match="has not started yet"):
        Store.read(path)  # not "a finished sweep with 0 trials"
    with Store.open(path) as store:
        assert store.initialize({"seed": 0}, dict(space={}, n_trials=2, sampler="grid", seed=0))
    with Store.read(path) as reader:
        assert reader.rounds()[0]["n_trials"] == 2


# ----------------------------------------------------------------- 3. sweep.db alone


def test_sweep_db_alone_holds_every_trial_while_alive_and_after_sigkill(tmp_path) -> None:
    path = tmp_path / "run"
    proc = _child(
        f"s = Store.open({str(path)!r}); s.initialize({{'seed': 0}}, ROUND0)\n"
        "for c in range(5): s.write_trials(chunk(8 * c))\n"
        "print('written', flush=True); sys.stdin.readline()\n"
    )
    try:
        assert proc.stdout.readline() == "written\n", proc.stderr.read()
        for copy in (tmp_path / "alive", tmp_path / "killed"):
            if copy.name == "killed":
                proc.kill()
                assert proc.wait(timeout=30) == -signal.SIGKILL
            copy.mkdir()
            shutil.copy2(path / "sweep.db", copy / "sweep.db")  # no -wal, no -shm
            assert _trials_of(copy) == _expected(40), copy.name
    finally:
        proc.kill()
        proc.communicate()


# ----------------------------------------------------------------- 5. a full disk


def test_a_full_disk_is_a_store_error_and_loses_no_committed_trial(tmp_path) -> None:
    path = tmp_path / "run"
    out = _run(
        "import resource\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit: EFBIG\n"
        f"s = Store.open({str(path)!r}); s.initialize({{'seed': 0}}, ROUND0)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, resource.RLIM_INFINITY))\n"
        "n = 0\n"
        "try:\n"
        "    while True: s.write_trials(chunk(n)); n += 8\n"
        "except StoreError as e: print(n); print(e)\n"
        "s.close()\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1000, resource.RLIM_INFINITY))\n"
        "try: Store.open(" + repr(str(tmp_path / "new")) + ")\n"
        "except StoreError as e: print(e)\n"
    )
    written, error, opening = out.splitlines()
    assert int(written) >= 64  # the limit was reached by trials, not at once
    for message, where in ((error, path), (opening, tmp_path / "new")):
        assert repr(str(where)) in message and "full" in message
        assert f"jaxtune resume {where}" in message
    # A fresh process, with room again: every committed trial is there, and more fit.
    assert _trials_of(path) == _expected(int(written))
    with Store.open(path) as store:
        store.write_trials(_expected(int(written) + 8)[-8:])
    assert _trials_of(path) == _expected(int(written) + 8)


# ----------------------------------------------------------------- 4. a read-only folder


def _read_only(folder: Path) -> list[str]:
    """A command prefix that runs its command with ``folder`` read-only (or skip)."""
    if os.geteuid() != 0:  # permissions bind a user: chmod is enough
        for p in [folder, *folder.iterdir()]:
            p.chmod(0o555 if p.is_dir() else 0o444)
        return []
    # root ignores permissions: a read-only bind mount in a private mount namespace.
    script = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" "$0" && exec "$@"'
    prefix = ["unshare", "-m", "sh", "-c", script, str(folder)]
    if not shutil.which("unshare") or subprocess.run([*prefix, "true"]).returncode:
        pytest.skip("running as root without mount namespaces: cannot make a folder read-only")
    return prefix


@pytest.mark.parametrize("left", ["closed", "killed"])
def test_a_finished_store_reads_in_a_read_only_folder(tmp_path, left) -> None:
    path = tmp_path / "run"
    proc = _child(
        f"s = Store.open({str(path)!r}); s.initialize({{'seed': 0}}, ROUND0)\n"
        "for c in range(3): s.write_trials(chunk(8 * c))\n"
        + ("s.close()\n" if left == "closed" else "os.kill(os.getpid(), signal.SIGKILL)\n")
    )
    proc.communicate(timeout=60)
    wal = {"closed": False, "killed": True}[left]  # a killed writer leaves -wal and -shm
    assert (path / "sweep.db-wal").exists() == wal
    db = path / "sweep.db"
    before, mtime = db.read_bytes(), db.stat().st_mtime_ns
    try:
        out = _run(
            f"r = Store.read({str(path)!r}); print(r.count(), r.meta()); r.close()\n"
            f"try: Store.open({str(path)!r})\n"
            "except StoreError as e: print(e)\n",
            *_read_only(path),
        )
    finally:
        for p in [path, *path.iterdir()]:
            p.chmod(0o755 if p.is_dir() else 0o644)
    counted, error = out.splitlines()
    assert counted == "24 {'seed': 0}"
    assert repr(str(path)) in error and "permission denied or read-only" in error
    assert db.read_bytes() == before and db.stat().st_mtime_ns == mtime
    assert _trials_of(path) == _expected(24)
