"""The classifier of classification tasks: mteb's logistic regression, or the same after standardising."""

from __future__ import annotations

import json

import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from embedlab.cli import main
from embedlab.errors import EmbedlabError
from embedlab.eval.classifiers import use_classifier
from tests.eval.test_commands import EVAL, QUIET, TASK, TINY


def tasks():
    from mteb.mocks.mock_tasks import classification, sts

    return classification.MockClassificationTask(), sts.MockSTSTask()


def test_standardised_puts_a_scaler_before_mtebs_own_logistic_regression():
    classify, sts = tasks()
    use_classifier([classify, sts], "standardised-logistic")
    model = classify.evaluator_model
    assert isinstance(model, Pipeline)
    scaler, logistic = (step for _, step in model.steps)
    assert isinstance(scaler, StandardScaler) and isinstance(logistic, LogisticRegression)
    assert (logistic.C, logistic.max_iter) == (1.0, 100)  # mteb's settings: only the scaler differs
    assert "evaluator_model" not in vars(sts)


def test_logistic_gives_a_shared_task_back_mtebs_default():
    classify, _ = tasks()
    use_classifier([classify], "standardised-logistic")
    use_classifier([classify], "logistic")
    assert classify.evaluator_model is type(classify).evaluator_model


def test_an_unknown_classifier_names_the_choices():
    with pytest.raises(EmbedlabError, match="'standardized' is not one of: standardised-logistic, logistic"):
        use_classifier([], "standardized")


def test_test_records_a_non_default_classifier_in_run_json(tmp_path):
    run = tmp_path / "run"
    options = ["--evaluation.run_dir", str(run), "--evaluation.classifier", "standardised-logistic"]
    assert main(["test", *TINY, *QUIET, *EVAL, *options]) == 0
    assert json.loads((run / "run.json").read_text())["classifier"] == "standardised-logistic"


def test_evaluate_refuses_an_unknown_classifier_before_loading_a_model(capsys):
    assert main(["evaluate", "--backbone", "no-such-model", "--suite", TASK, "--classifier", "nope"]) == 2
    assert "classifier 'nope' is not one of" in capsys.readouterr().err
