"""Every trained variant against its own untrained floor: per-example tests, one corrected family."""

from __future__ import annotations

import json

import pytest

from embedlab.analysis.floors import categories_beaten, floor_comparisons, floor_table
from embedlab.analysis.synthetic import ONE_TASK_PER_CATEGORY, SyntheticVariant, write_synthetic_runs

TASKS = ONE_TASK_PER_CATEGORY
SIZES = {"STS": 120, "Retrieval": 120, "Classification": 150, "Clustering": 120}


def write_pair(root, name, floor_effects):
    """A trained run of `name` and its floor, whose latent quality is shifted by `floor_effects`."""
    write_synthetic_runs(
        root / "trained", variants=[SyntheticVariant(name, "Causal", "LastToken")], seeds=[0], tasks=TASKS, sizes=SIZES
    )
    floor = SyntheticVariant(f"untrained-{name}", "Causal", "LastToken", floor_effects)
    write_synthetic_runs(root / "floors", variants=[floor], seeds=[0], tasks=TASKS, sizes=SIZES, max_steps=0)
    run_json = root / "floors" / f"untrained-{name}_s0" / "run.json"
    meta = json.loads(run_json.read_text())
    run_json.write_text(json.dumps({**meta, "train_mix": "none", "train_mix_fingerprint": None}))
    return root / "trained" / f"{name}_s0", root / "floors" / f"untrained-{name}_s0"


def test_a_model_far_above_its_floor_in_three_categories_beats_it_in_those_three(tmp_path):
    worse = {"STS": -2.0, "Retrieval": -2.0, "Classification": -2.0}  # clustering: the same quality
    pair = write_pair(tmp_path, "m1_eos_causal", worse)
    frame = floor_comparisons({"m1_eos_causal": pair}, n_resamples=400, n_jobs=1)
    by_category = frame.set_index("category")
    assert set(by_category.index) == {"STS", "Retrieval", "Classification", "Clustering"}
    assert by_category.loc[["STS", "Retrieval", "Classification"], "beats_floor"].all()
    assert not by_category.loc["Clustering", "beats_floor"]
    assert (by_category.loc[["STS", "Retrieval", "Classification"], "delta"] > 0).all()
    assert categories_beaten(frame).to_dict() == {"m1_eos_causal": 3}
    # the delta is the trained score minus the floor's (results files round to 6 decimals)
    expected = (by_category.trained - by_category.floor).to_numpy()
    assert by_category["delta"].to_numpy() == pytest.approx(expected, abs=2e-6)


def test_holm_runs_over_every_variant_and_category_together(tmp_path):
    pairs = {name: write_pair(tmp_path / name, name, {"STS": -2.0}) for name in ("m1_eos_causal", "x_mean_causal")}
    frame = floor_comparisons(pairs, n_resamples=200, n_jobs=1)
    assert len(frame) == 8
    ranked = frame.sort_values("p")["p"].to_numpy()
    # Holm's first step: the smallest p times the family's size (8), not the variant's (4)
    assert frame["p_adj"].min() == pytest.approx(min(1.0, 8 * ranked[0]))
    table = floor_table(frame, n_resamples=200)
    assert list(table.frame.columns) == ["STS", "Classification", "Retrieval", "Clustering", "beats floor in"]
    assert table.frame.loc["m1_eos_causal", "beats floor in"] == "1 of 4"
    assert "over all 8 comparisons" in table.caption
