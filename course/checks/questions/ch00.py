"""Chapter 00 (setup and GPU check): the TensorFlow version, devices, device strings and the CPU-vs-GPU speedup."""

from __future__ import annotations

import re
import sys
from typing import Any

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
        raise Wrong("You passed the tensorflow module itself.", hint="Pass tf.__version__, the version string.")
    if not isinstance(answer, str):
        raise Wrong(
            f"The version should be a string like '2.15.0', but the answer is {describe(answer)}.",
            hint="Use tf.__version__ as it is, without converting it.",
        )
    installed = _tf().__version__
    if answer.strip() != installed:
        raise Wrong(f"{answer.strip()!r} is not the installed TensorFlow version.")
    return f"TensorFlow {installed} is installed and working."


@question(
    "00.gpu_count",
    title="How many GPUs can TensorFlow see?",
    hint='Count the list that tf.config.list_physical_devices("GPU") returns.',
)
def gpu_count(answer: Any) -> str:
    if isinstance(answer, (list, tuple)):
        raise Wrong(f"You passed {describe(answer)} (the device list itself).",
                    hint="Pass len(...) of the list: a number.")
    count = expect_number(answer, len(_tf().config.list_physical_devices("GPU")), tol=0, name="the number of GPUs")
    if count == 0:
        return "Right: no GPU is visible, so TensorFlow runs everything on the CPU (slower, but every chapter works)."
    return f"Right: TensorFlow sees {int(count)} GPU(s)."


_GPU0 = re.compile(r"^/?(device:)?gpu:0$", re.IGNORECASE)


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
    if re.match(r"^/?(device:)?gpu:[1-9]\d*$", text, re.IGNORECASE):
        raise Wrong(f"{text!r} is a GPU, but not the first one.", hint="Devices are numbered from 0.")
    if re.match(r"^/?(device:)?cpu:\d+$", text, re.IGNORECASE):
        raise Wrong(f"{text!r} is the CPU.", hint="Replace the device type CPU with GPU.")
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
