"""A store's identity and the calibration cache do not depend on the terminal.

jax colours a printed jaxpr when stdout is a terminal (or a Jupyter kernel). A sweep
started in a terminal must resume from a pipe (``nohup``, CI), and the calibration
measured in one must be found from the other.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import json, os, sys
    import jax, jax.numpy as jnp, numpy as np
    from jax._src import pretty_printer
    import jaxtune
    from jaxtune import parallel
    from jaxtune.parallel import calibrate, calibration_cache
    from jaxtune.space import LogUniform, Space
    out, store, cache, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    parallel.enable_calibration_cache(cache)
    calibrate.MIN_BUDGET_SECONDS, calibrate.ROUND_SECONDS = 0.02, 0.01  # quick
    calls = []
    timed = calibrate.calibrate
    calibrate.calibrate = lambda *a, **k: calls.append(1) or timed(*a, **k)

    def train(hparams, key):
        h = jax.nn.relu(hparams["lr"] * jax.random.normal(key, (8,)))
        return {"val_loss": jnp.sum(h)}

    closed = jax.make_jaxpr(train)({"lr": jnp.float32(0.1)}, jax.random.key(0))
    sweep = jaxtune.Sweep(Space(lr=LogUniform(1e-3, 1.0)), train, n, store=store,
                          chunk_size=2, quiet=True)
    results = sweep.run()
    parallel.run(train, {"lr": np.linspace(0.1, 1.0, 6, dtype=np.float32)}, jax.random.key(0))
    files = sorted(f for f in os.listdir(cache) if f.endswith(".json"))
    with open(out, "w") as f:
        json.dump({
            "tty": sys.stdout.isatty(),
            "colour": pretty_printer.CAN_USE_COLOR and "\\x1b[" in str(closed.jaxpr),
            "program": sweep.fingerprint["program"],
            "trials": len(results.trials),
            "calibrated": len(calls),
            "files": files,
        }, f)
""")


def _run(tmp_path, n: int, terminal: bool) -> dict:
    out = tmp_path / f"out-{n}.json"
    args = [sys.executable, "-c", SCRIPT, str(out), str(tmp_path / "s"), str(tmp_path / "c")]
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "TERM": "xterm-256color"}
    if terminal:
        leader, follower = pty.openpty()
        proc = subprocess.Popen(
            [*args, str(n)], stdin=follower, stdout=follower, stderr=follower, env=env
        )
        os.close(follower)
        seen = b""
        while True:  # drain the terminal so the child never blocks on it
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the child closed its side
                break
            if not chunk:
                break
            seen += chunk
        os.close(leader)
        assert proc.wait(timeout=300) == 0, seen.decode(errors="replace")[-4000:]
    else:
        done = subprocess.run([*args, str(n)], capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(out.read_text())


def test_a_sweep_started_in_a_terminal_resumes_from_a_pipe_and_the_calibration_hits(tmp_path):
    first = _run(tmp_path, 4, terminal=True)
    assert first["tty"] and first["colour"], "the child must really see a colour terminal"
    assert first["trials"] == 4 and first["calibrated"] == 1 and len(first["files"]) == 1
    second = _run(tmp_path, 6, terminal=False)  # resumed (and grown) from a pipe
    assert not second["tty"] and not second["colour"]
    assert second["program"] == first["program"]
    assert second["trials"] == 6  # no "the function's program changed" refusal
    assert second["calibrated"] == 0 and second["files"] == first["files"]  # a cache hit
