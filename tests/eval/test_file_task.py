"""Tasks from files: a YAML spec plus CSV / TSV / JSONL becomes an mteb task usable wherever a task name is,
and a malformed file gets an error naming the file, the line where it can, and the column."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embedlab.eval.adapter import MTEBAdapter
from embedlab.eval.evaluator import MTEBEvaluator
from embedlab.eval.file_task import TaskFileError, load_task_file
from embedlab.eval.run_dir import RunDirectory
from embedlab.eval.suites import resolve_tasks

DATA = Path(__file__).parent / "data"


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder / "task.yaml"


STS = {
    "task.yaml": "name: ToySTS\ntype: STS\nsplits: {test: pairs.csv}\nscore_range: [0, 5]\n",
    "pairs.csv": "sentence1,sentence2,score\na cat sits,a cat is sitting,4.8\na cat sits,stocks fell,0.2\n"
    "rain today,it is raining,4.1\nrain today,a red car,0.5\n",
}
CLUSTERING = {
    "task.yaml": "name: ToyClusters\ntype: Clustering\nsplits: {test: items.tsv}\ncolumns: {text: t, label: g}\n",
    "items.tsv": "t\tg\napples and pears\tfruit\nbananas\tfruit\nhammer\ttool\nscrewdriver\ttool\n",
}


def test_example_tasks_evaluate_and_reproduce(module, tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "c").mkdir()
    sts, clusters = write(tmp_path / "s", STS), write(tmp_path / "c", CLUSTERING)
    specs = [str(DATA / "tickets" / "task.yaml"), str(DATA / "faq" / "task.yaml"), str(sts), str(clusters)]
    tasks = resolve_tasks(specs)
    assert [t.metadata.name for t in tasks] == ["SupportTicketArea", "ToyFAQRetrieval", "ToySTS", "ToyClusters"]
    assert [t.metadata.type for t in tasks] == ["Classification", "Retrieval", "STS", "Clustering"]
    report = MTEBEvaluator(tasks).run(MTEBAdapter(module, precision="fp32"), RunDirectory(tmp_path / "run"))
    assert all(s.reproduced == pytest.approx(s.score, abs=1e-5) for s in report.scores)
    header, *records = [json.loads(x) for x in (tmp_path / "run/predictions/SupportTicketArea.jsonl").open()]
    assert [r["id"] for r in records] == ["e1", "e2", "e3", "e4", "e5", "e6"] and records[0]["label"] == "billing"


def test_instruction_and_revision_come_from_the_spec():
    task = load_task_file(DATA / "tickets" / "task.yaml")
    assert task.metadata.prompt == "Classify the product area of the given support ticket"
    assert len(task.metadata.dataset["revision"]) == 16
    faq = load_task_file(DATA / "faq" / "task.yaml")
    assert faq.metadata.prompt == {"query": "Given a customer question, retrieve the FAQ answer that resolves it"}


def test_missing_column_names_file_and_column(tmp_path):
    spec = write(tmp_path, {**CLUSTERING, "items.tsv": "text\tg\nx\ta\ny\tb\n"})
    with pytest.raises(TaskFileError, match=r"items.tsv: no column 't' \(columns: text, g\); .*`columns.text`"):
        load_task_file(spec)


def test_empty_split_names_the_file(tmp_path):
    spec = write(tmp_path, {**STS, "pairs.csv": "sentence1,sentence2,score\n"})
    with pytest.raises(TaskFileError, match=r"pairs.csv: .*splits.test has no rows"):
        load_task_file(spec)


def test_label_type_mismatch_between_files(tmp_path):
    spec = write(
        tmp_path,
        {
            "task.yaml": "name: T\ntype: Classification\nsplits: {train: train.jsonl, test: test.jsonl}\n",
            "train.jsonl": '{"text": "a", "label": 1}\n{"text": "b", "label": 2}\n',
            "test.jsonl": '{"text": "c", "label": "1"}\n',
        },
    )
    with pytest.raises(
        TaskFileError,
        match=r"label type mismatch in column 'label': .*train.jsonl holds int.*"
        r"test.jsonl holds str",
    ):
        load_task_file(spec)


def test_label_type_mix_within_a_file(tmp_path):
    spec = write(
        tmp_path,
        {
            "task.yaml": "name: T\ntype: Clustering\nsplits: {test: items.jsonl}\n",
            "items.jsonl": '{"text": "a", "label": 1}\n{"text": "b", "label": "x"}\n',
        },
    )
    with pytest.raises(
        TaskFileError,
        match=r"items.jsonl: column 'label' mixes label types \(integer at line 1 "
        r"and str at line 2\)",
    ):
        load_task_file(spec)


def test_non_numeric_score_names_file_line_and_column(tmp_path):
    spec = write(tmp_path, {**STS, "pairs.csv": "sentence1,sentence2,score\na,b,1\nc,d,high\n"})
    with pytest.raises(TaskFileError, match=r"pairs.csv:3: column 'score' must be a number, got 'high'"):
        load_task_file(spec)


def test_unseen_test_label_and_unknown_qrel_id(tmp_path):
    spec = write(
        tmp_path,
        {
            "task.yaml": "name: T\ntype: Classification\nsplits: {train: train.csv, test: test.csv}\n",
            "train.csv": "text,label\na,x\nb,y\n",
            "test.csv": "text,label\nc,z\n",
        },
    )
    with pytest.raises(TaskFileError, match=r"test.csv: column 'label' has labels the train split .* lacks: z"):
        load_task_file(spec)
    faq = tmp_path / "faq"
    faq.mkdir()
    for name in ("queries.jsonl", "corpus.jsonl", "task.yaml"):
        (faq / name).write_text((DATA / "faq" / name).read_text())
    (faq / "qrels.tsv").write_text("query_id\tdoc_id\nq1\ta9\n")
    with pytest.raises(TaskFileError, match=r"qrels.tsv:2: column 'doc_id': 'a9' is not a corpus id"):
        load_task_file(faq / "task.yaml")


def test_spec_errors_suggest_valid_choices(tmp_path):
    bad_type = write(tmp_path, {**STS, "task.yaml": "name: T\ntype: Clustring\nsplits: {test: pairs.csv}\n"})
    with pytest.raises(TaskFileError, match=r"task.yaml: type: 'Clustring' is not supported; choose one of Clustering"):
        load_task_file(bad_type)
    bad_key = write(tmp_path, {**STS, "task.yaml": "name: T\ntype: STS\nsplit: {test: pairs.csv}\n"})
    with pytest.raises(TaskFileError, match=r"task.yaml: split: unknown key; valid keys, closest first: splits"):
        load_task_file(bad_key)
    bad_score = write(
        tmp_path, {**STS, "task.yaml": "name: T\ntype: STS\nsplits: {test: pairs.csv}\nmain_score: spearman\n"}
    )
    with pytest.raises(TaskFileError, match=r"main_score: 'spearman' is not a STS score; closest: cosine_spearman"):
        load_task_file(bad_score)
    missing = write(tmp_path, {"task.yaml": "name: T\ntype: STS\nsplits: {test: nowhere.csv}\n"})
    with pytest.raises(TaskFileError, match=r"splits.test: file .*nowhere.csv does not exist"):
        load_task_file(missing)
