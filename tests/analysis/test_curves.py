"""Training curves read from Lightning's CSV logs, resumed fits included."""

from __future__ import annotations

import pytest

from embedlab.analysis.curves import convergence_table, curves_figure, read_curves
from embedlab.analysis.errors import AnalysisError


def write_log(run_dir, version, text):
    path = run_dir / "lightning_logs" / f"version_{version}" / "metrics.csv"
    path.parent.mkdir(parents=True)
    path.write_text(text)


def test_curves_join_the_versions_of_a_resumed_fit_keeping_the_last_value_of_a_step(tmp_path):
    write_log(tmp_path, 0, "epoch,step,train/loss,val/loss\n0,4,2.0,\n0,9,1.5,\n0,9,,1.8\n0,14,1.4,\n")
    write_log(tmp_path, 1, "epoch,step,train/loss,val/loss\n0,14,1.3,\n0,19,1.0,\n0,19,,1.2\n")
    curves = read_curves(tmp_path)
    train = curves[curves.metric == "train/loss"]
    assert train["step"].tolist() == [4, 9, 14, 19]
    assert train["value"].tolist() == [2.0, 1.5, 1.3, 1.0]  # step 14 from the resumed version
    assert curves[curves.metric == "val/loss"][["step", "value"]].values.tolist() == [[9, 1.8], [19, 1.2]]


def test_version_10_comes_after_version_9(tmp_path):
    write_log(tmp_path, 9, "step,train/loss\n4,2.0\n")
    write_log(tmp_path, 10, "step,train/loss\n4,1.0\n")
    assert read_curves(tmp_path)["value"].tolist() == [1.0]


def test_the_convergence_table_averages_each_end_and_lists_every_validation(tmp_path):
    write_log(tmp_path, 0, "step,train/loss,val/loss\n4,3.0,\n9,2.0,\n14,1.0,\n19,0.5,\n24,,0.9\n")
    table = convergence_table({"m1": read_curves(tmp_path)}, window=2)
    row = table.loc["m1"]
    assert row["train loss first"] == pytest.approx(2.5)
    assert row["train loss last"] == pytest.approx(0.75)
    assert row["last / first"] == pytest.approx(0.3)
    assert row["val loss @25"] == pytest.approx(0.9)
    assert curves_figure({"m1": read_curves(tmp_path)}, tmp_path / "curves.png") is not None
    assert (tmp_path / "curves.png").stat().st_size > 0


def test_a_run_without_a_log_is_named_in_the_error(tmp_path):
    with pytest.raises(AnalysisError, match="no lightning_logs"):
        read_curves(tmp_path)
