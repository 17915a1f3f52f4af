"""docs/reliability.md stays true: every test its table names exists, and every malformed-input case is listed."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "reliability.md"
HEADER = ["failure", "entry point", "what embedlab does", "test"]
TEST_CELL = re.compile(r"^`(?P<path>tests/[\w/]+\.py)::(?P<function>test_\w+)(?:\[(?P<case>[\w-]+)\])?`$")


def split_row(line: str) -> list[str]:
    """Cells of a Markdown table row (`|` inside backticks does not occur in this table)."""
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def table_rows() -> list[list[str]]:
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| failure |"))
    assert split_row(lines[start]) == HEADER
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(split_row(line))
    return rows


def module_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def test_every_row_names_an_existing_test():
    rows = table_rows()
    assert len(rows) >= 20
    for row in rows:
        assert len(row) == 4 and all(row), row
        match = TEST_CELL.match(row[3])
        assert match, f"test cell must be `tests/...py::test_name[case]`: {row[3]}"
        path = ROOT / match["path"]
        assert path.is_file(), f"{match['path']} does not exist (row: {row[0]})"
        assert match["function"] in module_functions(path), f"{match['path']} defines no {match['function']}"
        if match["case"]:
            assert f'"{match["case"]}"' in path.read_text(encoding="utf-8"), f"no case {match['case']!r} in {path}"


def test_every_malformed_input_case_is_in_the_table():
    from tests.reliability import test_malformed_inputs as catalogue

    named = {row[3].strip("`") for row in table_rows()}
    module = "tests/reliability/test_malformed_inputs.py"
    cases = {
        "test_bad_training_row_is_located_or_counted": catalogue.ROW_CASES,
        "test_malformed_task_file": catalogue.TASK_CASES,
        "test_malformed_analysis_input_through_embedlab_analyze": catalogue.ANALYSIS_CASES,
    }
    for function in sorted(f for f in module_functions(ROOT / module) if f.startswith("test_")):
        if function in cases:
            missing = [c for c in cases[function] if f"{module}::{function}[{c}]" not in named]
            assert not missing, f"docs/reliability.md lacks {function} cases {missing}"
        else:
            assert f"{module}::{function}" in named, f"docs/reliability.md lacks {function}"
