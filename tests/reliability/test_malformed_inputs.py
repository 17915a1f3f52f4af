"""The catalogue of malformed inputs: every kind, where it enters, and what embedlab does with it.

One parametrised case per kind. Each asserts the exact kind of error (an `EmbedlabError`, which the
`embedlab` command prints as `embedlab: error: ...` without a traceback, or LightningCLI's usage
error naming the key) and that the message names the file and line, or the key, at fault; where
the bad-row policy allows a skip, that the row is counted and every valid row kept.
`docs/reliability.md` lists these cases; `test_reliability_doc.py` keeps the two in step.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from embedlab.analysis.synthetic import DEFAULT_VARIANTS, write_synthetic_runs
from embedlab.cli import main
from embedlab.data import CsvSource, JsonlSource, ParquetSource
from embedlab.data.rows import BadRow, BadRowLog, RowRules
from embedlab.errors import EmbedlabError
from embedlab.eval.file_task import TaskFileError, load_task_file

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TINY = ["--config", str(CONFIGS / "base.yaml"), "--config", str(CONFIGS / "backbones" / "tiny-random.yaml")]
M1 = ["--config", str(CONFIGS / "variants" / "m1_eos_causal.yaml")]
GOOD = [{"query": f"query {i}", "positive": f"positive {i}", "negative": f"negative {i}"} for i in range(6)]


# ----------------------------------------------------------------------------- training files


def read_all(source, policy: str, rules: RowRules | None = None) -> tuple[list[str], BadRowLog]:
    """Every query the source yields under `policy`, and the bad-row log (the mix's accounting)."""
    source.bind(rules or RowRules(), None)
    log, queries = BadRowLog(policy), []
    for entry in source.rows():
        if isinstance(entry, BadRow):
            log.record(source.name, entry)
        else:
            queries.append(entry.example.query)
    return queries, log


def jsonl_with(path: Path, bad: bytes, line: int = 3) -> Path:
    lines = [json.dumps(r).encode() for r in GOOD]
    lines.insert(line - 1, bad)
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


ROW_CASES = {  # kind -> (bad line, BadRow kind)
    "jsonl_truncated_line": (b'{"query": "cut sh', "malformed"),
    "jsonl_invalid_utf8": (b'{"query": "caf\xe9", "positive": "p"}', "invalid_utf8"),
    "jsonl_huge_line": (json.dumps({"query": "q", "positive": "x" * 5000}).encode(), "too_long"),  # > max_line_bytes
    "jsonl_wrong_type": (b'{"query": 42, "positive": "p"}', "wrong_type"),
    "jsonl_nan_text": (b'{"query": NaN, "positive": "p"}', "wrong_type"),
    "jsonl_missing_field": (b'{"query": "no positive here"}', "missing_field"),
    "jsonl_not_an_object": (b'["query", "positive"]', "malformed"),
    "jsonl_deep_nesting": (b"[" * 3000, "malformed"),
    "jsonl_huge_integer": (b'{"query": ' + b"9" * 4400 + b', "positive": "p"}', "malformed"),
}


@pytest.mark.parametrize("kind", sorted(ROW_CASES))
def test_bad_training_row_is_located_or_counted(kind, tmp_path):
    bad, row_kind = ROW_CASES[kind]
    path = jsonl_with(tmp_path / "rows.jsonl", bad)
    with pytest.raises(EmbedlabError, match=rf"rows\.jsonl:3: .*\[{row_kind}\]"):
        read_all(JsonlSource(str(path), max_line_bytes=4500), "error")
    queries, log = read_all(JsonlSource(str(path), max_line_bytes=4500), "skip")
    assert queries == [r["query"] for r in GOOD]  # every valid row, in order
    assert log.counts == {"rows": {row_kind: 1}}


def test_jsonl_byte_order_mark_keeps_the_first_row(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + b"\n".join(json.dumps(r).encode() for r in GOOD) + b"\n")
    queries, log = read_all(JsonlSource(str(path)), "error")
    assert queries == [r["query"] for r in GOOD] and log.total() == 0


def test_jsonl_empty_file_is_an_error_naming_the_source(tmp_path):
    from embedlab.data import TrainingMix
    from embedlab.models.byte_tokenizer import byte_level_tokenizer
    from embedlab.models.tokenization import TextTokenizer

    (tmp_path / "empty.jsonl").write_bytes(b"")
    mix = TrainingMix([JsonlSource(str(tmp_path / "empty.jsonl"))], batch_size=2, num_workers=0, val_fraction=0.0)
    mix.connect(TextTokenizer(byte_level_tokenizer(), max_length=32))
    with pytest.raises(EmbedlabError, match=r"source 'empty' has no usable train examples"):
        next(iter(mix.train_dataloader()))


def test_training_path_that_is_a_folder(tmp_path):
    (tmp_path / "data.jsonl").mkdir()
    with pytest.raises(EmbedlabError, match=r"data\.jsonl' names only folders"):
        read_all(JsonlSource(str(tmp_path / "data.jsonl")), "error")


def test_csv_missing_column_names_file_and_column(tmp_path):
    (tmp_path / "pairs.csv").write_text("title,body\nq,p\n")
    with pytest.raises(EmbedlabError, match=r"pairs\.csv: no column 'query' for the query; columns there: title, body"):
        read_all(CsvSource(str(tmp_path / "pairs.csv")), "skip")


def test_csv_extra_field_is_a_located_bad_row(tmp_path):
    (tmp_path / "pairs.csv").write_text("query,positive\nq1,p1\nq2,p2,stray\nq3,p3\n")
    with pytest.raises(EmbedlabError, match=r"pairs\.csv:3: 3 fields, the header has 2 \[malformed\]"):
        read_all(CsvSource(str(tmp_path / "pairs.csv")), "error")
    queries, log = read_all(CsvSource(str(tmp_path / "pairs.csv")), "skip")
    assert queries == ["q1", "q3"] and log.counts == {"pairs": {"malformed": 1}}


def test_csv_byte_order_mark_is_not_part_of_the_header(tmp_path):
    (tmp_path / "excel.csv").write_bytes(b"\xef\xbb\xbfquery,positive\r\nq1,p1\r\nq2,p2\r\n")
    assert read_all(CsvSource(str(tmp_path / "excel.csv")), "error")[0] == ["q1", "q2"]


def test_csv_duplicate_header_column(tmp_path):
    (tmp_path / "pairs.csv").write_text("query,positive,query\nq1,p1,other\n")
    with pytest.raises(EmbedlabError, match=r"pairs\.csv:1: the header names column\(s\) 'query' more than once"):
        read_all(CsvSource(str(tmp_path / "pairs.csv")), "skip")


def test_parquet_truncated_file(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"query": ["a", "b"], "positive": ["x", "y"]}), tmp_path / "full.parquet")
    data = (tmp_path / "full.parquet").read_bytes()
    (tmp_path / "cut.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(EmbedlabError, match=r"cut\.parquet: not a readable Parquet file"):
        read_all(ParquetSource(str(tmp_path / "cut.parquet")), "skip")


def test_hard_negatives_of_the_wrong_type(tmp_path):
    (tmp_path / "neg.jsonl").write_text('{"query": "q", "positive": "p", "negative": {"text": "n"}}\n')
    with pytest.raises(EmbedlabError, match=r"neg\.jsonl:1: field 'negative' must be a string or a list"):
        read_all(JsonlSource(str(tmp_path / "neg.jsonl")), "error", RowRules(negatives_needed=1))


# ----------------------------------------------------------------------------- tasks from files

STS_SPEC = "name: ToySTS\ntype: STS\nsplits: {test: pairs.csv}\nscore_range: [0, 5]\n"
STS_ROWS = "sentence1,sentence2,score\na cat sits,a cat is sitting,4.8\nrain today,a red car,0.5\n"
RETRIEVAL_SPEC = (
    "name: ToyRetrieval\ntype: Retrieval\nsplits: {test: {queries: q.jsonl, corpus: c.jsonl, qrels: r.tsv}}\n"
)
QUERIES = '{"id": "q1", "text": "reset password"}\n'
CORPUS = '{"id": "d1", "text": "use the reset link"}\n{"id": "d2", "text": "orders ship in 3 days"}\n'
CLASSIFICATION_SPEC = "name: ToyClasses\ntype: Classification\nsplits: {train: train.csv, test: test.csv}\n"
TASK_CASES = {  # kind -> (files, message pattern)
    "task_invalid_utf8": (
        {"task.yaml": STS_SPEC, "pairs.csv": b"sentence1,sentence2,score\na,b,1\ncaf\xe9,d,2\n"},
        r"pairs\.csv:3: not valid UTF-8",
    ),
    "task_nan_score": (
        {"task.yaml": STS_SPEC, "pairs.csv": "sentence1,sentence2,score\na,b,1\nc,d,nan\n"},
        r"pairs\.csv:3: column 'score' must be a finite number, got 'nan'",
    ),
    "task_score_out_of_range": (
        {"task.yaml": STS_SPEC, "pairs.csv": "sentence1,sentence2,score\na,b,1\nc,d,7.5\n"},
        r"pairs\.csv:3: column 'score': 7\.5 is outside score_range \[0, 5\]",
    ),
    "task_non_numeric_score": (
        {"task.yaml": STS_SPEC, "pairs.csv": "sentence1,sentence2,score\na,b,high\n"},
        r"pairs\.csv:2: column 'score' must be a number, got 'high'",
    ),
    "task_extra_csv_field": (
        {"task.yaml": STS_SPEC, "pairs.csv": "sentence1,sentence2,score\na,b,1\nc,d,2,oops\n"},
        r"pairs\.csv:3: 4 fields, the header has 3",
    ),
    "task_missing_column": (
        {"task.yaml": STS_SPEC, "pairs.csv": "sentence1,text2,score\na,b,1\n"},
        r"pairs\.csv: no column 'sentence2' .*columns\.text2",
    ),
    "task_multiline_record_line_numbers": (
        {"task.yaml": STS_SPEC, "pairs.csv": 'sentence1,sentence2,score\n"two\nlines",b,1\nc,d,bad\n'},
        r"pairs\.csv:4: column 'score' must be a number",  # the record starts on line 4, not row 3
    ),
    "task_duplicate_header": (
        {"task.yaml": STS_SPEC, "pairs.csv": "sentence1,sentence2,score,score\na,b,1,2\n"},
        r"pairs\.csv:1: the header names column\(s\) 'score' twice",
    ),
    "task_empty_file": ({"task.yaml": STS_SPEC, "pairs.csv": ""}, r"pairs\.csv: .*splits\.test has no rows"),
    "task_truncated_jsonl": (
        {"task.yaml": STS_SPEC.replace("pairs.csv", "pairs.jsonl"), "pairs.jsonl": '{"sentence1": "a", "sent'},
        r"pairs\.jsonl:1: not valid JSON",
    ),
    "task_text_of_wrong_type": (
        {
            "task.yaml": STS_SPEC.replace("pairs.csv", "pairs.jsonl"),
            "pairs.jsonl": '{"sentence1": "a", "sentence2": "b", "score": 1}\n{"sentence1": ["c"], "sentence2": "d", '
            '"score": 2}\n',
        },
        r"pairs\.jsonl:2: column 'sentence1' must hold a text, got list",
    ),
    "task_duplicate_id": (
        {
            "task.yaml": STS_SPEC,
            "pairs.csv": "id,sentence1,sentence2,score\np1,a,b,1\np2,c,d,2\np1,e,f,3\n",
        },
        r"pairs\.csv:4: id 'p1' in column 'id' repeats line 2",
    ),
    "task_unknown_label": (
        {
            "task.yaml": CLASSIFICATION_SPEC,
            "train.csv": "text,label\nx,billing\ny,shipping\n",
            "test.csv": "text,label\nz,refunds\n",
        },
        r"test\.csv: column 'label' has labels the train split .*train\.csv\) lacks: refunds",
    ),
    "task_unknown_qrel_doc": (
        {
            "task.yaml": RETRIEVAL_SPEC,
            "q.jsonl": QUERIES,
            "c.jsonl": CORPUS,
            "r.tsv": "query_id\tdoc_id\tscore\nq1\td9\t1\n",
        },
        r"r\.tsv:2: column 'doc_id': 'd9' is not a corpus id",
    ),
    "task_fractional_relevance": (
        {
            "task.yaml": RETRIEVAL_SPEC,
            "q.jsonl": QUERIES,
            "c.jsonl": CORPUS,
            "r.tsv": "query_id\tdoc_id\tscore\nq1\td1\t0.5\n",
        },
        r"r\.tsv:2: column 'score': relevance must be a whole number, got 0\.5",
    ),
    "task_duplicate_qrel": (
        {
            "task.yaml": RETRIEVAL_SPEC,
            "q.jsonl": QUERIES,
            "c.jsonl": CORPUS,
            "r.tsv": "query_id\tdoc_id\tscore\nq1\td1\t1\nq1\td1\t0\n",
        },
        r"r\.tsv:3: the pair \('q1', 'd1'\) repeats line 2",
    ),
    "task_spec_unknown_key": (
        {"task.yaml": STS_SPEC + "score_rnage: [0, 5]\n", "pairs.csv": STS_ROWS},
        r"task\.yaml: score_rnage: unknown key; valid keys, closest first: score_range",
    ),
    "task_spec_wrong_type": (
        {"task.yaml": STS_SPEC + "columns: [sentence1, sentence2]\n", "pairs.csv": STS_ROWS},
        r"task\.yaml: columns: map column roles to column names",
    ),
    "task_spec_bad_score_range": (
        {"task.yaml": STS_SPEC.replace("[0, 5]", "[5, low]"), "pairs.csv": STS_ROWS},
        r"task\.yaml: score_range: give \[min, max\]",
    ),
    "task_spec_name_is_a_path": (
        {"task.yaml": STS_SPEC.replace("ToySTS", "../../outside"), "pairs.csv": STS_ROWS},
        r"task\.yaml: name: '\.\./\.\./outside' must be letters, digits",
    ),
    "task_spec_not_utf8": (
        {"task.yaml": b"name: Caf\xe9\ntype: STS\nsplits: {test: pairs.csv}\n", "pairs.csv": STS_ROWS},
        r"task\.yaml: not valid UTF-8",
    ),
}


@pytest.mark.parametrize("kind", sorted(TASK_CASES))
def test_malformed_task_file(kind, tmp_path):
    files, pattern = TASK_CASES[kind]
    for name, content in files.items():
        (tmp_path / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(TaskFileError, match=pattern):
        load_task_file(tmp_path / "task.yaml")


def test_task_file_with_byte_order_mark_reads(tmp_path):
    (tmp_path / "task.yaml").write_text(STS_SPEC)
    (tmp_path / "pairs.csv").write_bytes(b"\xef\xbb\xbf" + STS_ROWS.encode())
    assert load_task_file(tmp_path / "task.yaml").metadata.name == "ToySTS"


def test_malformed_task_file_through_the_cli(tmp_path, capsys):
    files, _ = TASK_CASES["task_nan_score"]
    for name, content in files.items():
        (tmp_path / name).write_text(content)
    suite = ["--evaluation.suite", str(tmp_path / "task.yaml"), "--evaluation.run_dir", str(tmp_path / "run")]
    code = main(["test", *TINY, *M1, *suite, "--trainer.logger", "false"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "error:" in err and "pairs.csv:3: column 'score' must be a finite number" in err
    assert "Traceback" not in err


# ----------------------------------------------------------------------------- YAML configs and CLI arguments


def test_config_misspelt_key(tmp_path, capsys):
    (tmp_path / "typo.yaml").write_text("model:\n  learning_rat: 0.001\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", *TINY, *M1, "--config", str(tmp_path / "typo.yaml")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert "error: Subcommand 'fit' does not accept option 'model.learning_rat'" in err
    assert "Traceback" not in err


def test_config_naming_a_missing_class(tmp_path, capsys):
    (tmp_path / "loss.yaml").write_text("model:\n  loss:\n    class_path: embedlab.losses.InfoNCEE\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", *TINY, *M1, "--config", str(tmp_path / "loss.yaml")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert 'Parser key "model.loss"' in err and "embedlab.losses' has no attribute 'InfoNCEE'" in err
    assert "Traceback" not in err


def test_config_with_a_wrong_type(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", *TINY, *M1, "--trainer.max_steps", "many"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "trainer.max_steps" in err and "Traceback" not in err


def test_config_broken_yaml(tmp_path, capsys):
    (tmp_path / "broken.yaml").write_text("model:\n  learning_rate: [1\n")
    assert main(["fit", *TINY, "--config", str(tmp_path / "broken.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("embedlab: error: ") and "broken.yaml: not valid YAML" in err and "line 2" in err


def test_config_unknown_pooling_name(tmp_path, capsys):
    (tmp_path / "variant.yaml").write_text("model:\n  attention: Causal\n  pooling: LastTokn\n")
    assert main(["fit", *TINY, "--config", str(tmp_path / "variant.yaml")]) == 2
    err = capsys.readouterr().err
    assert "variant.yaml: model.pooling" in err and "LastToken" in err


def test_study_preset_with_a_wrong_type(tmp_path):
    from embedlab.study.preset import load_preset

    preset = yaml.safe_load((CONFIGS / "studies" / "demo.yaml").read_text())
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump({**preset, "seeds": 3}))
    with pytest.raises(EmbedlabError, match=r"mine\.yaml: seeds must be a list, got int 3"):
        load_preset(str(tmp_path / "mine.yaml"), root=CONFIGS)
    (tmp_path / "typo.yaml").write_text(yaml.safe_dump({**preset, "max_step": 3}))
    with pytest.raises(EmbedlabError, match=r"typo\.yaml: unknown key 'max_step'; valid keys: max_steps"):
        load_preset(str(tmp_path / "typo.yaml"), root=CONFIGS)


# ----------------------------------------------------------------------------- checkpoints

TINY_BACKBONE = yaml.safe_load((CONFIGS / "backbones" / "tiny-random.yaml").read_text())["model"]["backbone"]


def fake_checkpoint(path: Path, attention: str = "Bidirectional", pooling: str = "MultiLayerTrainable") -> Path:
    """A checkpoint that holds what the CLI reads before the weights: hyper-parameters of an m5-like model."""
    hyper_parameters = {
        "backbone": TINY_BACKBONE,
        "attention": {"class_path": f"embedlab.models.{attention}"},
        "pooling": {"class_path": f"embedlab.models.{pooling}"},
    }
    torch.save({"state_dict": {}, "global_step": 3, "hyper_parameters": hyper_parameters}, path)
    return path


class Unsafe:
    """Pickled into a checkpoint, it would run code on load (here a harmless `os.getcwd`)."""

    def __reduce__(self):
        return (os.getcwd, ())


def test_checkpoint_truncated(tmp_path):
    from embedlab.checkpoint_file import read_checkpoint

    whole = fake_checkpoint(tmp_path / "whole.ckpt")
    (tmp_path / "cut.ckpt").write_bytes(whole.read_bytes()[:300])
    with pytest.raises(EmbedlabError, match=r"checkpoint .*cut\.ckpt is not readable"):
        read_checkpoint(tmp_path / "cut.ckpt")


def test_checkpoint_holding_pickled_objects_is_refused(tmp_path):
    from embedlab.checkpoint_file import read_checkpoint

    torch.save({"state_dict": {}, "extra": Unsafe()}, tmp_path / "unsafe.ckpt")
    with pytest.raises(EmbedlabError, match=r"unsafe\.ckpt holds objects other than tensors .*GLOBAL posix\.getcwd"):
        read_checkpoint(tmp_path / "unsafe.ckpt")


def test_checkpoint_that_is_not_a_lightning_checkpoint(tmp_path):
    from embedlab.checkpoint_file import read_checkpoint

    torch.save({"weights": torch.zeros(2)}, tmp_path / "plain.pt")
    with pytest.raises(EmbedlabError, match=r"plain\.pt is not a Lightning checkpoint \(no 'state_dict'\)"):
        read_checkpoint(tmp_path / "plain.pt")


def test_checkpoint_of_another_variant(tmp_path):
    from embedlab.checkpoint_file import check_variant, read_checkpoint

    path = fake_checkpoint(tmp_path / "m5.ckpt")
    m1 = yaml.safe_load((CONFIGS / "variants" / "m1_eos_causal.yaml").read_text())["model"]
    with pytest.raises(
        EmbedlabError,
        match=r"m5\.ckpt is of another model .*model\.attention: the config says 'Causal', "
        r"the checkpoint was trained with 'Bidirectional'; model\.pooling: the config says 'LastToken'",
    ):
        check_variant(read_checkpoint(path)["hyper_parameters"], m1, path)
    check_variant(read_checkpoint(path)["hyper_parameters"], {"attention": None, "pooling": None}, path)  # not set


def test_export_of_a_truncated_checkpoint(tmp_path):
    from embedlab.export.writer import load_module

    (tmp_path / "cut.ckpt").write_bytes(fake_checkpoint(tmp_path / "whole.ckpt").read_bytes()[:300])
    with pytest.raises(EmbedlabError, match=r"Could not load checkpoint .*cut\.ckpt as an EmbeddingModule"):
        load_module(tmp_path / "cut.ckpt")


def test_checkpoint_truncated_through_embedlab_test(tmp_path, capsys):
    (tmp_path / "cut.ckpt").write_bytes(fake_checkpoint(tmp_path / "whole.ckpt").read_bytes()[:300])
    code = main(["test", *TINY, *M1, "--ckpt_path", str(tmp_path / "cut.ckpt"), "--trainer.logger", "false"])
    assert code == 2 and "cut.ckpt is not readable" in capsys.readouterr().err


def test_checkpoint_truncated_through_embedlab_evaluate(tmp_path, capsys):
    (tmp_path / "cut.ckpt").write_bytes(fake_checkpoint(tmp_path / "whole.ckpt").read_bytes()[:300])
    code = main(["evaluate", "--checkpoint", str(tmp_path / "cut.ckpt"), "--run-dir", str(tmp_path / "run")])
    assert code == 2 and "cut.ckpt is not readable" in capsys.readouterr().err


def test_checkpoint_of_another_variant_through_embedlab_test(tmp_path, capsys, monkeypatch):
    evaluated = []
    monkeypatch.setattr("embedlab.eval.lightning_test.run_test", lambda cli, model, *a: evaluated.append(model))
    path = fake_checkpoint(tmp_path / "m5.ckpt")
    code = main(["test", *TINY, *M1, "--ckpt_path", str(path), "--trainer.logger", "false"])
    err = capsys.readouterr().err
    assert not evaluated, "an m5 checkpoint was evaluated under the m1 config"
    assert code == 2 and "m5.ckpt is of another model" in err


# ----------------------------------------------------------------------------- analysis inputs

ONE_TASK = (("SynSTS1", "STS"),)


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory) -> Path:
    """Two variants x one seed x one STS task of 40 pairs: the smallest study `embedlab analyze` accepts."""
    root = tmp_path_factory.mktemp("runs") / "runs"
    return write_synthetic_runs(root, variants=DEFAULT_VARIANTS[:2], seeds=(0,), tasks=ONE_TASK, sizes={"STS": 40})


def first_run(root: Path) -> Path:
    return sorted(p.parent for p in root.rglob("run.json"))[0]


def drop_backbone(run: Path) -> None:
    meta = json.loads((run / "run.json").read_text())
    del meta["backbone"]
    (run / "run.json").write_text(json.dumps(meta))


def replace_line(path: Path, number: int, line: bytes) -> None:
    lines = path.read_bytes().splitlines()
    lines[number - 1] = line
    path.write_bytes(b"\n".join(lines) + b"\n")


def nan_main_score(run: Path) -> None:
    path = run / "results" / "SynSTS1.json"
    result = json.loads(path.read_text())
    result["scores"]["test"][0]["main_score"] = float("nan")
    path.write_text(json.dumps(result))


PREDICTIONS = Path("predictions") / "SynSTS1.jsonl"
ANALYSIS_CASES = {  # kind -> (damage to the first run, message pattern with RUN for the run directory)
    "run_json_missing_field": (drop_backbone, r"RUN/run\.json: missing required field\(s\) backbone"),
    "run_json_truncated": (
        lambda run: (run / "run.json").write_bytes((run / "run.json").read_bytes()[:40]),
        r"RUN/run\.json: not valid JSON",
    ),
    "run_json_not_utf8": (
        lambda run: (run / "run.json").write_bytes(b'{"variant": "\xe9"}'),
        r"RUN/run\.json: not valid UTF-8",
    ),
    "results_truncated": (
        lambda run: (run / "results/SynSTS1.json").write_bytes((run / "results/SynSTS1.json").read_bytes()[:60]),
        r"RUN/results/SynSTS1\.json: not valid JSON",
    ),
    "results_nan_main_score": (nan_main_score, r"RUN/results/SynSTS1\.json: scores\.test\[0\]\.main_score is nan"),
    "predictions_malformed_line": (
        lambda run: replace_line(run / PREDICTIONS, 3, b'{"id": "q1", "gold"'),
        r"RUN/predictions/SynSTS1\.jsonl:3: must be a JSON object",
    ),
    "predictions_nan_score": (
        lambda run: replace_line(run / PREDICTIONS, 4, b'{"id": "q00002", "gold": 1.0, "score": NaN}'),
        r"RUN/predictions/SynSTS1\.jsonl:4: field 'score' must be a finite number, got nan",
    ),
    "predictions_not_utf8": (
        lambda run: replace_line(run / PREDICTIONS, 2, b'{"id": "\xe9"}'),
        r"RUN/predictions/SynSTS1\.jsonl:2: not valid UTF-8",
    ),
    "predictions_duplicate_id": (
        lambda run: replace_line(run / PREDICTIONS, 3, (run / PREDICTIONS).read_bytes().splitlines()[1]),
        r"RUN/predictions/SynSTS1\.jsonl:3: example id 'q00000' repeats line 2",
    ),
    "predictions_header_not_an_object": (
        lambda run: replace_line(run / PREDICTIONS, 1, b'["STS"]'),
        r"RUN/predictions/SynSTS1\.jsonl:1: line 1 must be the JSON header object, got list",
    ),
}


@pytest.mark.parametrize("kind", sorted(ANALYSIS_CASES))
def test_malformed_analysis_input_through_embedlab_analyze(kind, tiny_runs, tmp_path, capsys):
    runs = Path(shutil.copytree(tiny_runs, tmp_path / "runs"))
    damage, pattern = ANALYSIS_CASES[kind]
    run = first_run(runs)
    damage(run)
    argv = ["analyze", str(runs), "--baseline", "m1", "--out", str(tmp_path / "report"), "--n-resamples", "20"]
    assert main([*argv, "--no-figures", "--jobs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("embedlab analyze: error: "), err
    assert __import__("re").search(pattern.replace("RUN", __import__("re").escape(str(run))), err), err
    assert "Traceback" not in err
    assert not (tmp_path / "report" / "results.md").exists()


def test_analysis_refuses_incomplete_runs_naming_run_and_task(tiny_runs, tmp_path):
    from embedlab.analysis.errors import IncompleteRunsError
    from embedlab.analysis.runs import load_runs

    runs = Path(shutil.copytree(tiny_runs, tmp_path / "runs"))
    write_synthetic_runs(
        runs, variants=DEFAULT_VARIANTS[:2], seeds=(0,), tasks=(("SynSTS2", "STS"),), sizes={"STS": 40}
    )
    run = first_run(runs)
    (run / "results" / "SynSTS2.json").unlink()
    with pytest.raises(IncompleteRunsError, match=rf"{run} lacks 1 task\(s\) the other runs have: SynSTS2"):
        load_runs(runs)
    assert load_runs(runs, allow_incomplete=True).tasks == ["SynSTS1"]  # asked for: only the common task


def test_damaged_run_json_is_not_overwritten_by_an_evaluation(tmp_path):
    from embedlab.eval.run_dir import RunDirectory

    (tmp_path / "run.json").write_text('{"variant": "m5", "seed"')
    with pytest.raises(EmbedlabError, match=r"run\.json: not valid JSON .*it is kept as it is"):
        RunDirectory(tmp_path).write_run_json({"variant": "m5"})
    assert (tmp_path / "run.json").read_text() == '{"variant": "m5", "seed"'
