"""Crash and resume: `embedlab fit` killed with SIGKILL at three different points, then stopped by SIGTERM,
each time resumed with `--ckpt_path last`, ends with the weights and the sequence of training examples
of an uninterrupted run (CPU, deterministic, LoRA dropout on, a TrainingMix that crosses epochs).

Kill points (global step = optimiser steps done):
  1. step boundary after step 2 (its checkpoint written)              -> resumes at step 2
  2. mid-step 5: gradients computed, no optimiser step                  -> resumes at step 4, redoes step 5
  3. step 6 taken, its checkpoint not yet written                       -> resumes at step 5, redoes step 6
  4. SIGTERM held at the boundary after step 7: step 8 finishes, last.ckpt, exit 143 -> resumes at step 8
The uninterrupted reference runs beside the chain, in parallel.
"""

from __future__ import annotations

import signal

from tests.reliability.runs import (
    assert_same_weights,
    callbacks_config,
    checkpoint,
    hold_at,
    interrupt,
    start_fit,
    step_log,
    steps_logged,
    wait_for,
    write_configs,
)

STEPS = 10
KILLS = [  # (signal, hold step, hook, the step the next run resumes from)
    (signal.SIGKILL, 2, "batch_start", 2),
    (signal.SIGKILL, 4, "after_backward", 4),
    (signal.SIGKILL, 6, "batch_end", 5),
    (signal.SIGTERM, 7, "batch_start", 8),
]


def test_killed_and_resumed_fit_matches_an_uninterrupted_one(tmp_path):
    argv = write_configs(tmp_path / "data")
    reference_root, root = tmp_path / "reference", tmp_path / "run"
    reference = start_fit(
        [*argv, *callbacks_config(tmp_path / "reference.yaml", [step_log(tmp_path / "reference.jsonl")])],
        reference_root, STEPS, tmp_path / "reference.log",
    )  # fmt: skip
    logs = []
    try:
        for index, (signum, step, hook, resumes_at) in enumerate(KILLS):
            marker, log = tmp_path / f"held{index}", tmp_path / f"steps{index}.jsonl"
            extra = callbacks_config(tmp_path / f"run{index}.yaml", [step_log(log), hold_at(step, hook, marker)])
            process = start_fit([*argv, *extra, "--ckpt_path", "last"], root, STEPS, tmp_path / f"run{index}.log")
            wait_for(marker, process, tmp_path / f"run{index}.log")
            code = interrupt(process, signum)
            output = (tmp_path / f"run{index}.log").read_text()
            logs.append(steps_logged(log))
            if signum == signal.SIGKILL:
                assert code == -signal.SIGKILL
            else:  # finished step 8, saved last.ckpt, and said so; the status says "incomplete"
                assert code == 128 + signal.SIGTERM, output
                assert "SIGTERM received: stopped after step 8" in output and "--ckpt_path last" in output
            assert checkpoint(root / "checkpoints" / "last.ckpt")["global_step"] == resumes_at, output
        final = tmp_path / "steps_final.jsonl"
        extra = callbacks_config(tmp_path / "final.yaml", [step_log(final)])
        process = start_fit([*argv, *extra, "--ckpt_path", "last"], root, STEPS, tmp_path / "final.log")
        assert process.wait(240) == 0, (tmp_path / "final.log").read_text()
        logs.append(steps_logged(final))
        assert reference.wait(240) == 0, (tmp_path / "reference.log").read_text()
    finally:
        reference.kill()

    straight = steps_logged(tmp_path / "reference.jsonl")
    assert [line["step"] for line in straight] == list(range(STEPS))
    # Each run starts where the checkpoint left it and sees exactly the uninterrupted run's batches.
    starts = [0] + [resumes_at for *_, resumes_at in KILLS]
    for start, log in zip(starts, logs, strict=True):
        assert log and log[0]["step"] == start
        assert log == straight[start : start + len(log)]
    assert logs[-1][-1]["step"] == STEPS - 1
    final, expected = (
        checkpoint(root / "checkpoints" / "last.ckpt"),
        checkpoint(reference_root / "checkpoints" / "last.ckpt"),
    )
    assert final["global_step"] == expected["global_step"] == STEPS
    assert_same_weights(final, expected)
    moments, expected_moments = (c["optimizer_states"][0]["state"] for c in (final, expected))
    for a, b in zip(moments.values(), expected_moments.values(), strict=True):
        assert all(a[k].equal(b[k]) for k in ("exp_avg", "exp_avg_sq"))
    assert final["TrainingMix"]["consumed"] == STEPS and final["TrainingMix"]["last"] == expected["TrainingMix"]["last"]
    # The step checkpoints the chain wrote hold the reference's weights at the same steps.
    for step in (2, 4, 7):
        assert_same_weights(checkpoint(root / "checkpoints" / f"step{step}.ckpt"),
                            checkpoint(reference_root / "checkpoints" / f"step{step}.ckpt"))  # fmt: skip
