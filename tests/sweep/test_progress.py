"""Progress that tells a hang from slow work (jaxtune.sweep.progress)."""

from __future__ import annotations

import logging

from jaxtune.sweep.progress import HANG_ADVICE, Watch


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_running_chunk_is_shown_against_earlier_chunks_and_a_hang_warns_once(caplog):
    clock = Clock()
    watch = Watch(clock)
    watch.group()
    clock.now = 30.0
    assert watch.status() == "first chunk 30s (compiling)"
    watch.chunk_done(4)  # compile included: not an estimate of later chunks
    clock.now += 2.0
    watch.chunk_done(4)
    clock.now += 4.0
    assert watch.status() == "chunk 4.0s / ~2.0s"
    with caplog.at_level(logging.WARNING, logger="jaxtune.sweep"):
        clock.now += 50.0  # 27x its expected time, but under a minute: slow, not hung
        watch.status()
        assert not caplog.records
        clock.now += 30.0
        assert watch.status() == "chunk 84s / ~2.0s"
        watch.status()
    assert len(caplog.records) == 1  # ONE warning
    text = caplog.records[0].getMessage()
    assert "a chunk of 4 trial(s) has run 84 s, 42x the 2.0 s" in text and HANG_ADVICE in text
    assert "chunk_size=1" in text and "xla_cpu_multi_thread_eigen=false" in text


def test_a_first_chunk_warns_only_after_first_seconds(caplog):
    clock = Clock()
    watch = Watch(clock)
    with caplog.at_level(logging.WARNING, logger="jaxtune.sweep"):
        clock.now = 500.0
        watch.status()
        assert not caplog.records
        clock.now = 700.0
        watch.status()
    assert "first chunk (compilation included) has run 700 s" in caplog.text


def test_a_sweep_shows_its_bar_with_the_best_value(tmp_path, monkeypatch, capsys):
    import jax.numpy as jnp

    from jaxtune.space import LogUniform, Space
    from jaxtune.sweep import Sweep, progress

    monkeypatch.setattr(progress, "_interactive", lambda: True)

    def train(hparams, key):
        return {"val_loss": jnp.abs(jnp.log10(hparams["lr"]) + 2.0)}

    space = Space(lr=LogUniform(1e-3, 1.0))
    res = Sweep(space, train, 4, store=str(tmp_path / "s"), chunk_size=2).run()
    err = capsys.readouterr().err
    assert "round 0" in err and "4/4" in err
    assert f"all best val_loss={res.best_value:.4g}" in err


def test_a_notebook_keeps_one_output_whose_saved_text_is_the_final_bar(
    tmp_path, monkeypatch, capsys
):
    # In a kernel the bar is one display updated in place: nothing on stderr, and the text
    # a saved notebook keeps is the last update (tqdm's widget would save its first, "0%").
    import jax.numpy as jnp

    from jaxtune.space import LogUniform, Space
    from jaxtune.sweep import Sweep, progress

    shown: list[list[str]] = []

    class Handle:
        def update(self, data, raw):
            assert raw
            shown[-1].append(data["text/plain"])

    def display(data, raw, display_id):
        assert raw and display_id and data == {"text/plain": ""}
        shown.append([])
        return Handle()

    monkeypatch.setattr(progress, "_kernel", lambda: True)
    monkeypatch.setattr("IPython.display.display", display)
    space = Space(lr=LogUniform(1e-3, 1.0))
    train = lambda hparams, key: {"val_loss": jnp.abs(jnp.log10(hparams["lr"]) + 2.0)}  # noqa: E731
    res = Sweep(space, train, 4, store=str(tmp_path / "s"), chunk_size=2).run()
    assert len(shown) == 1, "one output per sweep"
    assert "100%" not in capsys.readouterr().err
    last = shown[0][-1]
    assert last.startswith("round 0: 100%") and "4/4" in last
    assert last.endswith(f"all best val_loss={res.best_value:.4g}]")
