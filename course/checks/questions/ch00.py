"""Chapter 00 (setup and GPU check): the TensorFlow version, devices, device strings and the CPU-vs-GPU speedup."""

from __future__ import annotations

import numbers
import re
import sys
from typing import Any

import numpy as np

from course.checks.authoring import Wrong, expect_number, reject_slips
from course.checks.catalog import question
from course.checks.describe import describe


def _tf() -> Any:
    tf = sys.modules.get("tensorflow")
    if tf is None:  # import lazily: importing course.checks must stay fast
        import tensorflow as tf
    return tf


@question(
    "00.tensorflow_version",
    title="Which TensorFlow version is installed?",
    hint="After `import tensorflow as tf`, the version is in tf.__version__.",
)
def tensorflow_version(answer: Any) -> str:
    if type(answer).__name__ == "module":
        raise Wrong(f"You passed {describe(answer)}, not its version.", hint="Pass tf.__version__, the version string.")
    if not isinstance(answer, str):
        raise Wrong(
            f"The version should be a string like '2.15.0', but the answer is {describe(answer)}.",
            hint="Use tf.__version__ as it is, without converting it.",
        )
    installed = _tf().__version__
    text = answer.strip()
    if text == installed:
        return f"TensorFlow {installed} is installed and working."
    keras = sys.modules.get("keras")
    if keras is not None and text == getattr(keras, "__version__", None):
        raise Wrong(f"{text!r} is the version of Keras, not of TensorFlow.", hint="Ask the tf module: tf.__version__.")
    if text and installed.startswith(text):
        raise Wrong(f"{text!r} is only the start of the installed version.",
                    hint="Pass the whole string, tf.__version__, as it is.")
    raise Wrong(f"{text!r} is not the installed TensorFlow version.",
                hint="Do not type it in: tf.__version__ is always the version this kernel runs.")


@question(
    "00.gpu_count",
    title="How many GPUs can TensorFlow see?",
    hint='Count the list that tf.config.list_physical_devices("GPU") returns: len(...) of it.',
)
def gpu_count(answer: Any) -> str:
    count = _a_count(answer)
    seen = len(_tf().config.list_physical_devices("GPU"))
    if count != seen:
        raise Wrong(f"{count} is not the number of GPUs TensorFlow sees here: it is off by {abs(count - seen)} "
                    f"({'too many' if count > seen else 'too few'}).")
    if count == 0:
        return "Right: no GPU is visible, so TensorFlow runs everything on the CPU (slower, but every chapter works)."
    return f"Right: TensorFlow sees {count} GPU(s)."


def _a_count(answer: Any) -> int:
    """A count of things is a whole number: an int (Python's or NumPy's), never negative; anything else is Wrong."""
    if isinstance(answer, (list, tuple)):
        raise Wrong(f"You passed {describe(answer)} (the device list itself).",
                    hint="Pass len(...) of the list: a number.")
    if isinstance(answer, (bool, np.bool_)):
        raise Wrong(f"The answer is {answer}, a yes/no answer; the question asks how many GPUs there are.",
                    hint="A count is a whole number such as 0 or 1: len(...) of the list of GPUs.")
    if isinstance(answer, (str, bytes)):
        raise Wrong(f"The answer is {describe(answer)}; a count is a number, not text.",
                    hint="Remove the quotes, or better, let Python count: len(...) of the list of GPUs.")
    if isinstance(answer, numbers.Integral):
        if answer < 0:
            raise Wrong(f"The answer is {int(answer)}: a count of GPUs cannot be negative.",
                        hint="len(...) of the list of GPUs is 0 or more.")
        return int(answer)
    if isinstance(answer, numbers.Real):
        raise Wrong(f"The answer is {describe(answer)}; a count of GPUs is a whole number, an int.",
                    hint="len(...) gives an int: pass it as it is, without turning it into a float.")
    raise Wrong(f"The answer is {describe(answer)}; a count of GPUs is one whole number, an int.",
                hint='Pass len(tf.config.list_physical_devices("GPU")), not an array or a tensor.')


# "/GPU:0", "GPU:0", "/device:GPU:0" and the full name TensorFlow prints, "/job:localhost/replica:0/task:0/device:GPU:0"
_PREFIX = r"^(/job:[a-z0-9_]+/replica:\d+/task:\d+)?/?(device:)?"
_GPU0 = re.compile(_PREFIX + r"gpu:0$", re.IGNORECASE)


@question(
    "00.first_gpu_device",
    title="The device string that places an operation on the first GPU",
    hint='Device strings look like "/CPU:0": a slash, the device type, a colon and the index.',
)
def first_gpu_device(answer: Any) -> str:
    if not isinstance(answer, str):
        raise Wrong(f"A device string is text, but the answer is {describe(answer)}.",
                    hint='Write it in quotes, e.g. "/CPU:0".')
    text = answer.strip()
    if _GPU0.match(text):
        return 'Right: use it as `with tf.device("/GPU:0"): ...`.'
    if re.match(_PREFIX + r"gpu:[1-9]\d*$", text, re.IGNORECASE):
        raise Wrong(f"{text!r} is a GPU, but not the first one.", hint="Devices are numbered from 0.")
    if re.match(_PREFIX + r"cpu:\d+$", text, re.IGNORECASE):
        raise Wrong(f"{text!r} is the CPU.", hint="Replace the device type CPU with GPU.")
    if re.match(r"^/?physical_device:gpu:\d+$", text, re.IGNORECASE):
        raise Wrong(f"{text!r} is the name list_physical_devices prints; tf.device does not understand it.",
                    hint='Leave out "physical_device": "/GPU:0".')
    if re.match(r"^/?gpu\s*0$", text, re.IGNORECASE) or text.lower() in {"gpu", "/gpu"}:
        raise Wrong(f"{text!r} is missing part of the format.",
                    hint='The format is "/GPU:" followed by the index, e.g. "/GPU:0".')
    raise Wrong(f"{text!r} is not a device string TensorFlow understands for the first GPU.")


@question(
    "00.speedup",
    title="GPU speedup of the classic convolution benchmark",
    hint="Speedup = CPU time / GPU time: how many times faster the GPU is.",
)
def speedup(answer: Any) -> str:
    cpu, gpu = 3.862, 0.0877  # seconds
    if isinstance(answer, (int, float)) and not isinstance(answer, bool):
        reject_slips(answer, [
            (gpu / cpu, "That is GPU time / CPU time, the fraction of the time the GPU needs.",
             "Divide the other way round."),
            (cpu - gpu, "That is the difference in seconds, not how many times faster.",
             "Divide instead of subtracting."),
        ], tol=1e-3)
    expect_number(answer, cpu / gpu, tol=0.5, name="speedup")
    return "Right: the GPU was about 44 times faster on that benchmark."
