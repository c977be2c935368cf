"""Chapter 00 (setup): a first check that exercises the machinery."""

from __future__ import annotations

import sys
from typing import Any

from course.checks.authoring import Wrong
from course.checks.describe import describe
from course.checks.registry import question


def _tf_version() -> str:
    tf = sys.modules.get("tensorflow")
    if tf is None:  # import lazily: importing course.checks must stay fast
        import tensorflow as tf
    return tf.__version__


@question(
    "00.tensorflow_version",
    title="Which TensorFlow version is installed?",
    hint="After `import tensorflow as tf`, the version is in tf.__version__.",
)
def _(answer: Any) -> str:
    if type(answer).__name__ == "module":
        raise Wrong("You passed the tensorflow module itself.", hint="Pass tf.__version__, the version string.")
    if not isinstance(answer, str):
        raise Wrong(
            f"The version should be a string like '2.15.0', but the answer is {describe(answer)}.",
            hint="Use tf.__version__ as it is, without converting it.",
        )
    installed = _tf_version()
    if answer.strip() != installed:
        raise Wrong(f"{answer.strip()!r} is not the installed TensorFlow version.")
    return f"TensorFlow {installed} is installed and working."
