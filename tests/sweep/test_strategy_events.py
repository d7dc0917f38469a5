"""A callback with ``on_event`` hears every decision of a lane strategy: stops, pauses and
resumes (successive halving's promotions), copies (PBT's exploits)."""

from __future__ import annotations

import jaxtune


class Heard:
    """A callback told trials (``__call__``) and events (``on_event``)."""

    def __init__(self) -> None:
        self.trials, self.events = [], []

    def __call__(self, record) -> None:
        self.trials.append(record.trial)

    def on_event(self, event) -> None:
        self.events.append(event)


SPACE = jaxtune.Space(learning_rate=jaxtune.LogUniform(0.01, 0.5))


def test_successive_halving_tells_its_pauses_resumes_and_stops(tmp_path, tiny_npz):
    heard = Heard()
    sh = jaxtune.SuccessiveHalving(min_epochs=1, reduction_factor=3, max_epochs=9, lanes=4)
    task = jaxtune.Task(dataset=tiny_npz, epochs=9)
    res = jaxtune.Sweep(
        SPACE, task, 9, scheduler=sh, store=str(tmp_path), quiet=True, callbacks=[heard]
    ).run()
    kinds = [e["event"] for e in heard.events]
    # 9 trials pause at epoch 1; the best 3 resume and pause at 3; the best 1 resumes.
    assert kinds.count("pause") == 9 + 3 and kinds.count("resume") == 3 + 1
    stops = [e for e in heard.events if e["event"] == "stop"]
    assert sorted(e["trial"] for e in stops) == sorted(heard.trials) == list(range(9))
    assert [e["epoch"] for e in stops if not e["early"]] == [9]
    for t in res.trials:  # a trial's events, in order, end with its stop at its epochs
        mine = [e for e in heard.events if e["trial"] == t.trial]
        epochs = t.final["epochs_trained"]
        last = {"event": "stop", "trial": t.trial, "epoch": epochs, "early": epochs < 9}
        assert mine[-1] == {**last, "round": 0}


def test_pbt_tells_each_copy_with_its_source(tmp_path, tiny_npz):
    heard = Heard()
    pbt = jaxtune.PBT(interval_epochs=1, max_epochs=3)
    task = jaxtune.Task(dataset=tiny_npz, epochs=3)
    res = jaxtune.Sweep(
        SPACE, task, 8, scheduler=pbt, store=str(tmp_path), quiet=True, callbacks=[heard]
    ).run()
    copies = [e for e in heard.events if e["event"] == "copy"]
    rows = res.meta["pbt_lineage"]["0"]
    moved = {(r["trial"], r["interval"]): r["parent"] for r in rows if r["parent"] != r["trial"]}
    assert copies and len(copies) == len(moved)  # 2 lanes at each of the 2 inner boundaries
    for e in copies:  # a copy at epoch e starts interval e from the lane it copied
        assert moved[(e["trial"], e["epoch"])] == e["source"]
