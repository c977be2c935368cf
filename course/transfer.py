"""Chapter 12's plumbing: a cache for a pretrained model, keyed by a fingerprint, and accuracy in batches.

- :func:`fingerprint` — twelve hex digits that change whenever the architecture, a setting, the data or
  Keras changes (so a student who changes the source task never gets the old base back);
- :func:`cached_model` — load ``<folder>/<name>_<fingerprint>.keras`` or train the model and save it there,
  atomically (a cut-off save never passes for a good file), and say in words which happened;
- :func:`save_atomic` — the save it uses: a temporary file beside the target, then ``os.replace``;
- :func:`accuracy` — a classifier's test accuracy, calling the model on a batch at a time, so that memory
  stays bounded however many test images there are (MobileNetV2 at 96×96 on 5,000 images at once needs
  gigabytes).

Keras is imported inside the functions, so ``import course.transfer`` stays fast.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["accuracy", "architecture", "cached_model", "fingerprint", "models_dir", "save_atomic"]


def models_dir() -> Path:
    """The per-user folder of cached models: ``$XDG_CACHE_HOME/course/models`` (default ``~/.cache``)."""
    from course.config import user_cache_dir

    return user_cache_dir().parent / "models"


def architecture(model: Any) -> str:
    """A text that describes ``model`` layer by layer: each layer's class and configuration, without its name.

    Two models built by the same code describe the same, although Keras numbers the names it makes up
    (``input_layer``, ``input_layer_1``, ...); any other change (a filter count, an activation, a layer more)
    changes the text. Nested models are described layer by layer too.
    """
    shapes = (getattr(model, "input_shape", None), getattr(model, "output_shape", None))
    parts = [type(model).__name__, repr(shapes)]
    for layer in model.layers:
        if hasattr(layer, "layers"):
            parts.append(f"[{architecture(layer)}]")
            continue
        config = {key: value for key, value in layer.get_config().items() if key != "name"}
        parts.append(type(layer).__name__ + json.dumps(config, sort_keys=True, default=repr))
    return "\n".join(parts)


def fingerprint(model: Any, *data: Any, **settings: Any) -> str:
    """Twelve hex digits of SHA-256 over the model's architecture, the ``settings``, the ``data`` and Keras' version.

    ``model`` is a Keras model: its :func:`architecture` stands for it (not its weights). ``data`` are
    arrays (the training images and labels): their dtype, shape and bytes all count. ``settings`` are keyword
    arguments whose ``repr`` counts, in the order of their names (``source=[0, 1, 2, 3, 4], epochs=8``).
    """
    import keras

    digest = hashlib.sha256()
    digest.update(architecture(model).encode())
    digest.update(keras.__version__.encode())
    for name in sorted(settings):
        digest.update(f"\0{name}={settings[name]!r}".encode())
    for i, array in enumerate(data):
        try:
            values = np.ascontiguousarray(np.asarray(array))
        except Exception as exc:
            raise TypeError(f"fingerprint: data argument {i + 1} is not an array ({type(array).__name__})") from exc
        if values.dtype.kind == "O":
            raise TypeError(f"fingerprint: data argument {i + 1} is not an array of numbers ({values.dtype})")
        digest.update(f"\0data {i} {values.dtype.str} {values.shape}".encode())
        digest.update(memoryview(values).cast("B"))
    return digest.hexdigest()[:12]


def save_atomic(model: Any, path: str | os.PathLike) -> Path:
    """Save ``model`` to ``path`` (a ``.keras`` file) through a temporary file beside it, then ``os.replace``.

    Another process reading ``path`` sees the old file or the complete new one, never half of one; a failed
    save leaves no temporary file behind. Returns the path.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"save_atomic: {path} must end in .keras (Keras 3's format)")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".keras")
    os.close(handle)
    try:
        model.save(partial)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return path


def cached_model(name: str, key: str, train: Callable[[], Any], *,
                 folder: str | os.PathLike | None = None) -> tuple[Any, str]:
    """``(model, how)``: the model saved as ``<folder>/<name>_<key>.keras``, or ``train()``'s model, saved there.

    ``key`` is a :func:`fingerprint` of everything the training depends on; ``folder`` defaults to
    :func:`models_dir`. ``how`` says in words what happened: loaded from the cache, or trained now and saved
    (or trained now and not saved, and why: a read-only or full disk does not stop the chapter). A file that
    cannot be loaded (damaged, or from another Keras) is trained again and replaced.
    """
    import keras

    if not isinstance(name, str) or not name or os.sep in name:
        raise ValueError(f"cached_model: name must be a plain file name, not {name!r}")
    if not isinstance(key, str) or not key.isalnum():
        raise ValueError(f"cached_model: key must be letters and digits (a fingerprint), not {key!r}")
    path = Path(folder) if folder is not None else models_dir()
    path = path.expanduser() / f"{name}_{key}.keras"
    note = ""
    if path.is_file():
        try:
            return keras.models.load_model(path), f"loaded from the cache ({path})"
        except Exception as exc:
            note = f"the cached file could not be loaded ({type(exc).__name__}), so it was trained again; "
    model = train()
    try:
        save_atomic(model, path)
    except OSError as exc:
        return model, f"{note}trained now; not saved ({exc.strerror or exc}: {path})"
    return model, f"{note}trained now; saved to {path}"


def accuracy(model: Any, x: Any, y: Any, batch_size: int = 256) -> float:
    """The fraction of ``x`` whose largest output of ``model`` is the label in ``y``, ``batch_size`` images at a time.

    The model is called directly, in inference mode (``training=False``): no graph to trace as
    ``model.evaluate`` or ``model.predict`` would build, and the memory of one batch, not of the whole set.
    """
    labels = np.asarray(y).reshape(-1)
    if len(x) != len(labels):
        raise ValueError(f"accuracy: {len(x):,} images but {len(labels):,} labels")
    if len(labels) == 0:
        raise ValueError("accuracy: no images to evaluate")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"accuracy: batch_size must be a positive whole number, not {batch_size!r}")
    correct = 0
    for start in range(0, len(labels), int(batch_size)):
        outputs = np.asarray(model(x[start:start + batch_size], training=False))
        correct += int(np.sum(np.argmax(outputs, axis=-1) == labels[start:start + batch_size]))
    return correct / len(labels)
