"""The chapters as committed: all present (the primer 00a too), no outputs, and the shape every chapter promises."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
CHAPTERS = ["00_setup", "00a_python_primer", "01_tensors", "02_mnist", "03_linear_regression",
            "04_softmax_regression", "05_neural_networks", "06_cnn", "07_rnn", "08_tensorboard", "09_saving_restoring",
            "10_optimizers", "11_cnn_architectures", "12_transfer_learning", "13_distributed_training"]


def load(name: str) -> dict:
    return json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())


def chapter_of(name: str) -> str:
    """The chapter id of a notebook's name: "03_linear_regression" -> "03", "00a_python_primer" -> "00a"."""
    return name.split("_", 1)[0]


def test_every_chapter_exists():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == CHAPTERS


def test_the_primer_sorts_between_setup_and_tensors_wherever_chapters_are_listed():
    """The file browser, `ls` and every sorted list put 00a_python_primer after 00_setup and before 01_tensors."""
    names = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert names.index("00a_python_primer.ipynb") == names.index("00_setup.ipynb") + 1
    assert names.index("01_tensors.ipynb") == names.index("00a_python_primer.ipynb") + 1
    assert [chapter_of(n) for n in CHAPTERS] == sorted(chapter_of(n) for n in CHAPTERS)


def test_the_notebook_runs_proof_reads_every_chapters_id():
    """The root conftest's proof (notebooks-record-no-exercise) finds the chapter of every notebook that runs."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_root_conftest", NOTEBOOKS.parent / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert [module._NOTEBOOK.match(f"{n}.ipynb")[1] for n in CHAPTERS] == [chapter_of(n) for n in CHAPTERS]
    assert module._NOTEBOOK.match("notes.ipynb") is None and module._NOTEBOOK.match("0a_x.ipynb") is None


@pytest.mark.parametrize("name", CHAPTERS)
def test_committed_without_outputs(name):
    for cell in load(name)["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"{name}: strip outputs before committing"
            assert cell["execution_count"] is None


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_shape(name):
    cells = load(name)["cells"]
    first = "".join(cells[0]["source"])
    assert cells[0]["cell_type"] == "markdown" and "학습 목표" in first, "learning goals (학습 목표) come first"
    text = "\n".join("".join(c["source"]) for c in cells)
    assert "fast_mode()" in text, "one visible settings cell reads fast_mode()"
    assert "요약" in text and "check(" in text, "a summary (요약) and graded exercises"


# --- long training shows progress ---------------------------------------------------------------------


def _code_cells(name: str) -> list[tuple[str, ast.Module]]:
    """(Python source, syntax tree) of every code cell; shell lines (`!cmd`) and magics (`%...`) left out."""
    cells = []
    for cell in load(name)["cells"]:
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            if source.lstrip().startswith("%%"):
                source = ""  # a cell magic (%%writefile): the kernel does not run its body as Python
            source = "\n".join("" if line.lstrip().startswith(("!", "%")) else line for line in source.splitlines())
            cells.append((source, ast.parse(source)))
    return cells


def _calls(tree: ast.AST, attribute: str | None = None, function: str | None = None) -> list[ast.Call]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if attribute and isinstance(node.func, ast.Attribute) and node.func.attr == attribute:
                found.append(node)
            elif function and isinstance(node.func, ast.Name) and node.func.id == function:
                found.append(node)
    return found


def _liveplot_names(tree: ast.AST) -> tuple[set[str], set[str]]:
    """Names bound to a LivePlot in a cell: (by assignment, by `with LivePlot(...) as name`)."""
    def is_liveplot(node: ast.AST) -> bool:
        return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "LivePlot"

    assigned, managed = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and is_liveplot(node.value):
            assigned |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.With):
            for item in node.items:
                if is_liveplot(item.context_expr) and isinstance(item.optional_vars, ast.Name):
                    managed.add(item.optional_vars.id)
    return assigned, managed


def _keras_fits(tree: ast.AST) -> list[ast.Call]:
    return [c for c in _calls(tree, attribute="fit") if any(k.arg == "epochs" for k in c.keywords)]


def test_the_chapters_train_with_keras_fit():
    # guards the test below against passing because it finds nothing
    assert sum(len(_keras_fits(tree)) for name in CHAPTERS for _, tree in _code_cells(name)) >= 6


@pytest.mark.parametrize("name", CHAPTERS)
def test_keras_training_shows_progress_with_liveplot(name):
    """Every `model.fit(..., epochs=...)` reports through a LivePlot callback, with Keras' own progress bar off."""
    for source, tree in _code_cells(name):
        assigned, _ = _liveplot_names(tree)
        for fit in _keras_fits(tree):
            keywords = {k.arg: k.value for k in fit.keywords}
            where = f"{name}: {ast.get_source_segment(source, fit)[:80]!r}"
            assert "callbacks" in keywords, f"{where} shows no progress: pass callbacks=[LivePlot(...)]"
            callbacks = ast.get_source_segment(source, keywords["callbacks"])
            assert "LivePlot(" in callbacks or any(n in callbacks for n in assigned), f"{where}: no LivePlot callback"
            verbose = keywords.get("verbose")
            assert isinstance(verbose, ast.Constant) and verbose.value == 0, f"{where}: verbose=0 (LivePlot shows it)"


@pytest.mark.parametrize("name", CHAPTERS)
def test_liveplots_fed_by_hand_are_finished(name):
    """A LivePlot fed with live.update(...) in a custom loop is ended: live.finish() or a `with` block."""
    for _, tree in _code_cells(name):
        assigned, managed = _liveplot_names(tree)
        updated = {c.func.value.id for c in _calls(tree, attribute="update") if isinstance(c.func.value, ast.Name)}
        finished = {c.func.value.id for c in _calls(tree, attribute="finish") if isinstance(c.func.value, ast.Name)}
        for live in updated & assigned:
            assert live in finished, f"{name}: {live}.update(...) without {live}.finish() (or `with LivePlot(...)`)"


# --- graded checks: each exercise once, in the cell with its placeholder -------------------------------------


def _check_calls(name: str) -> list[tuple[int, ast.Call, ast.Module]]:
    """(code cell number, the call, the cell's syntax tree) of every `check(...)` call of a chapter."""
    return [(number, call, tree) for number, (_, tree) in enumerate(_code_cells(name))
            for call in _calls(tree, function="check")]


def _question_id(name: str, number: int, call: ast.Call) -> str:
    first = call.args[0] if call.args else None
    assert isinstance(first, ast.Constant) and isinstance(first.value, str), \
        f"{name}, code cell {number}: check(...) must name its question with a literal string"
    return first.value


def _assigned_none(tree: ast.Module) -> set[str]:
    """Names the cell sets to None (`answer = None  # YOUR CODE HERE`): its placeholders."""
    return {target.id for node in ast.walk(tree) if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant) and node.value.value is None
            for target in node.targets if isinstance(target, ast.Name)}


def _registry() -> dict:
    from course.checks import registry

    return registry()


def test_the_registry_has_questions_of_these_chapters_only():
    assert {q.chapter for q in _registry().values()} <= {chapter_of(name) for name in CHAPTERS}


@pytest.mark.parametrize("name", CHAPTERS)
def test_notebook_and_registry_ids_match_one_to_one(name):
    """Every check(...) names a registered question of its own chapter; every registered question is checked."""
    chapter = chapter_of(name)
    checked = {_question_id(name, number, call) for number, call, _ in _check_calls(name)}
    registered = {qid for qid, q in _registry().items() if q.chapter == chapter}
    assert not checked - registered, f"{name} checks ids the registry lacks: {sorted(checked - registered)}"
    assert not registered - checked, f"registered ids no cell of {name} checks: {sorted(registered - checked)}"


@pytest.mark.parametrize("name", CHAPTERS)
def test_each_exercise_is_checked_once_in_the_cell_with_its_placeholder(name):
    """An exercise is checked in exactly one code cell, whose answer is a name that cell sets to None.

    So executing the chapter as committed records nothing for it; demonstrations print their figures, assert
    them, or check a chapter result (kind "result"), which may be checked wherever the chapter computes it.
    """
    registry = _registry()
    cells: dict[str, set[int]] = {}
    for number, call, tree in _check_calls(name):
        qid = _question_id(name, number, call)
        cells.setdefault(qid, set()).add(number)
        if qid not in registry or registry[qid].kind != "exercise":
            continue
        answer = call.args[1] if len(call.args) == 2 and not call.keywords else None
        assert isinstance(answer, ast.Name), \
            f"{name}, code cell {number}: check({qid!r}, ...) must pass one placeholder name (answer = None)"
        assert answer.id in _assigned_none(tree), \
            f"{name}, code cell {number}: {answer.id} is not set to None in the cell that checks {qid!r}"
    for qid, numbers in sorted(cells.items()):
        if qid in registry and registry[qid].kind == "exercise":
            assert len(numbers) == 1, f"{name}: exercise {qid!r} is checked in code cells {sorted(numbers)}"


def test_the_classification_of_the_chapters_questions():
    """The chapter results: each chapter's own computation reaching its figure (the rest are exercises)."""
    results = sorted(qid for qid, q in _registry().items() if q.kind == "result")
    assert results == ["02.pixel_mean", "04.model_accuracy", "05.sine_fit", "05.takeoff_mae", "05.xor",
                       "06.test_accuracy", "07.hello_prediction", "07.pos_accuracy", "08.graph_nodes",
                       "09.restored_value", "09.resumed", "10.tuned_accuracy",
                       "11.small_models", "12.transfer_table", "13.custom_loop_matches", "13.workers_agree"]
