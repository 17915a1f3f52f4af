"""The instruction table: the paper's rule (every text for symmetric tasks, queries only for retrieval),
fallbacks, templates, and the paper's 47 tasks all present."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from embedlab.errors import EmbedlabError
from embedlab.eval.instructions import Instructions, load_instructions
from embedlab.eval.suites import PAPER_TASKS


def meta(name: str, type: str = "STS", prompt=None):
    return SimpleNamespace(name=name, type=type, prompt=prompt)


@pytest.fixture(scope="module")
def table() -> Instructions:
    return Instructions.load()


def test_symmetric_tasks_instruct_every_text(table):
    assert table.for_task(meta("STS12"), None) == "Retrieve semantically similar text. "
    assert table.for_task(meta("ArxivClusteringP2P", "Clustering"), None).startswith("Identify the main and secondary")


def test_retrieval_instructs_queries_only(table):
    assert table.for_task(meta("SciFact", "Retrieval"), "query") == (
        "Given a scientific claim, retrieve documents that support or refute the claim. "
    )
    assert table.for_task(meta("SciFact", "Retrieval"), "document") is None


def test_fallbacks_task_prompt_then_type(table):
    assert table.for_task(meta("SomeHubTask", "Retrieval", {"query": "Find it"}), "query") == "Find it "
    assert table.for_task(meta("SomeHubTask", "Classification"), None) == "Classify the given text "
    assert table.for_task(meta("SomeHubTask", "Retrieval"), "document") is None


def test_template_and_none(table):
    paper_exact = Instructions.load(template="{instruction}")
    assert paper_exact.for_task(meta("STS12"), None) == "Retrieve semantically similar text."
    assert load_instructions("none") is None and load_instructions(None) is None
    with pytest.raises(EmbedlabError, match="must contain"):
        Instructions(template="no placeholder")


def test_the_paper_table_covers_its_47_tasks(table):
    import yaml

    from embedlab.eval.instructions import DEFAULT_FILE

    paper = yaml.safe_load(DEFAULT_FILE.read_text())["paper"]
    names = [t for group in PAPER_TASKS.values() for t in group]
    assert len(names) == 47 and set(paper) == set(names)


def test_custom_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "instr.yaml"
    bad.write_text("tasks:\n  MyTask: {query: q, passage: p}\n")
    with pytest.raises(EmbedlabError, match=r"instr.yaml: tasks.MyTask"):
        Instructions.load(bad)
