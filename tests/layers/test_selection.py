"""Layer specs, pooling names and task subsets: what they select, and errors that name the valid choices."""

from __future__ import annotations

import pytest

from embedlab.errors import UnknownNameError
from embedlab.layers.selection import LayerSelectionError, parse_layers, resolve_pooling, select_tasks


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (None, list(range(31))),
        ("all", list(range(31))),
        ("every:10", [0, 10, 20, 30]),
        ("every:7", [0, 7, 14, 21, 28, 30]),  # the last layer is always kept
        ("every3", list(range(0, 31, 3))),
        ("0,4,8", [0, 4, 8]),
        ("10-12,-1", [10, 11, 12, 30]),
        ("-1", [30]),
        ("5,5,1", [1, 5]),
        ([3, -2], [3, 29]),
        (7, [7]),
    ],
)
def test_layer_specs(spec, expected):
    assert parse_layers(spec, num_layers=30) == expected


@pytest.mark.parametrize("spec", ["31", "0,40", "-32", "25-31", [99]])
def test_out_of_range_names_the_valid_range(spec):
    with pytest.raises(LayerSelectionError, match=r"out of range: valid layers are 0\.\.30 \(0 = embeddings"):
        parse_layers(spec, num_layers=30)


@pytest.mark.parametrize("spec", ["every:0", "4-2", "first", "1;2"])
def test_unreadable_specs(spec):
    with pytest.raises(LayerSelectionError, match=r"0\.\.30"):
        parse_layers(spec, num_layers=30)


def test_pooling_names_and_aliases():
    assert resolve_pooling("mean") == resolve_pooling("Mean") == "mean"
    assert resolve_pooling("LastToken") == resolve_pooling("last-token") == resolve_pooling("eos") == "last_token"
    with pytest.raises(UnknownNameError, match=r"Unknown per-layer pooling 'maen'; choose one of mean"):
        resolve_pooling("maen")


def test_task_subset_and_suggestions(task_files):
    picked = select_tasks(task_files, "tinysts, TinyTopics")
    assert [t.metadata.name for t in picked] == ["TinySTS", "TinyTopics"]
    assert [t.metadata.name for t in select_tasks(task_files)] == ["TinySTS", "TinyClusters", "TinyTopics"]
    with pytest.raises(UnknownNameError, match=r"Unknown task 'TinyCluster' .*Closest task names: TinyClusters"):
        select_tasks(task_files, ["TinyCluster"])


def test_offline_suite_task_names_are_checked_without_assets():
    with pytest.raises(UnknownNameError, match=r"in offline-v1\. Closest task names: WordSim353STS"):
        select_tasks("offline-v1", "WordSim353")
