"""Chapter 09 (saving and restoring): CheckpointManager retention, restore, resume and Keras files."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from course.checks.authoring import Wrong, call_student, expect_array, expect_whole_number
from course.checks.catalog import RESULT, question
from course.checks.describe import describe


@question(
    "09.kept_checkpoints",
    title="Which checkpoints remain: every 50 steps up to 400, max_to_keep=3",
    hint="CheckpointManager deletes the oldest checkpoint once more than max_to_keep exist.",
)
def kept_checkpoints(answer: Any) -> None:
    if isinstance(answer, (set, frozenset)):
        answer = sorted(answer)  # a set of steps says the same
    if isinstance(answer, (list, tuple)) and answer and all(isinstance(s, str) for s in answer):
        raise Wrong(f"The answer is a list of names ({answer[0]!r}, ...); expected the steps as numbers.",
                    hint="Write the step numbers only: 300, not 'ckpt-300'.")
    array = expect_array(answer, name="the kept steps")
    if array.ndim != 1:
        raise Wrong(f"Expected a flat list of steps, not shape {array.shape}.")
    if not np.all(np.isfinite(array)) or not np.all(array == np.round(array)):
        raise Wrong("A step is a whole number; the answer has a fraction in it.",
                    hint="List the steps of the kept checkpoints, as whole numbers.")
    steps = sorted(int(s) for s in array)
    if steps == [50, 100, 150]:
        raise Wrong("Those are the first three checkpoints; the manager deletes the oldest ones.",
                    hint="It keeps the newest.")
    if len(steps) == 8:
        raise Wrong("That is every checkpoint ever written; only max_to_keep of them stay on disk.")
    if len(steps) != 3:
        raise Wrong(f"You listed {len(steps)} steps; max_to_keep=3 keeps 3.")
    if steps == [350, 400, 450]:
        raise Wrong("Training stops at step 400, so no checkpoint 450 is written.")
    expect_array(steps, [300, 350, 400], tol=0, name="the kept steps")


@question(
    "09.restored_value",
    title="The variable after restoring the checkpoint",
    hint="checkpoint.restore(path) assigns the saved values to the existing variables.",
    kind=RESULT,
)
def restored_value(answer: Any) -> None:
    array = expect_array(answer, name="the restored variable")
    if array.shape == (3,) and np.allclose(array, [10.0, 20.0, 30.0]):
        raise Wrong(
            "The variable still holds the values assigned after saving.",
            hint="Call checkpoint.restore(manager.latest_checkpoint) (or the saved path) before reading it.",
        )
    if array.shape == (3,) and np.allclose(array, 0.0):
        raise Wrong("The variable is all zeros: it was re-initialised instead of restored.")
    expect_array(array, [1.0, 2.0, 3.0], tol=1e-6, name="the restored variable")


@question(
    "09.resumed",
    title="The fresh process resumed from the last checkpoint",
    hint="Pass {'last_saved': <step of the last checkpoint>, 'resumed_from': <step the new process started at>}.",
    kind=RESULT,
)
def resumed(answer: Any) -> str:
    if not isinstance(answer, dict) or not {"last_saved", "resumed_from"} <= set(answer):
        raise Wrong(f"The answer is {describe(answer)}; expected a dict with keys 'last_saved' and 'resumed_from'.")
    last = expect_whole_number(answer["last_saved"], name="last_saved", hint="A step is a whole number.")
    resumed = expect_whole_number(answer["resumed_from"], name="resumed_from", hint="A step is a whole number.")
    if resumed == 0:
        raise Wrong(
            "The new process started at step 0: it trained from scratch.",
            hint="It must call checkpoint.restore(manager.latest_checkpoint) on the same folder before training.",
        )
    if last <= 0:
        raise Wrong("No checkpoint was saved before the interruption.", hint="Save with manager.save() every N steps.")
    if resumed != last:
        raise Wrong(f"The new process resumed at step {resumed}, but the last checkpoint was step {last}.")
    return f"Right: training went on from step {resumed} instead of starting over."


def _keras():
    keras = sys.modules.get("keras")
    if keras is None:
        import keras
    return keras


@question(
    "09.keras_roundtrip",
    title="A function that saves a Keras model to a .keras file and loads it back",
    hint="model.save(path) with a path ending in .keras, then keras.models.load_model(path).",
)
def keras_roundtrip(answer: Any) -> str:
    keras = _keras()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="dense")])
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    before = np.asarray(model(x))
    with tempfile.TemporaryDirectory(prefix="course-09-") as folder:
        loaded = call_student(answer, model, Path(folder), timeout=60.0, name="save_and_load")
        if loaded is None:
            raise Wrong("save_and_load returned None.",
                        hint="Return the model that keras.models.load_model gives back.")
        if loaded is model:
            raise Wrong("save_and_load returned the same model object it was given.",
                        hint="Return the model loaded from the file.")
        if not isinstance(loaded, keras.Model):
            raise Wrong(f"save_and_load returned {describe(loaded)}, not a Keras model.")
        if not any(p.suffix == ".keras" for p in Path(folder).rglob("*")):
            raise Wrong("No .keras file was written inside the folder.", hint="Save to folder / 'model.keras'.")
        after = np.asarray(loaded(x))
    expect_array(after, before, tol=1e-5, name="the loaded model's predictions")
    return ("Right: the .keras file holds the architecture and the weights (and, for a compiled model, the "
            "optimizer and its state).")
