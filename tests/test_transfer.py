"""course.transfer: the fingerprint that names a cached model, the cache itself, and accuracy in batches."""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest

from course.transfer import accuracy, cached_model, fingerprint, models_dir, save_atomic


def _model(units: int = 3, name: str = "tiny") -> keras.Model:
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(units, name="dense")], name=name)


X = np.arange(40, dtype=np.float32).reshape(10, 4) / 40
Y = np.arange(10) % 3


# --- fingerprint ----------------------------------------------------------------------------------------------


def test_the_same_model_settings_and_data_give_the_same_fingerprint():
    key = fingerprint(_model(), X, Y, source=[0, 1, 2, 3, 4], epochs=2)
    assert key == fingerprint(_model(), X.copy(), Y.copy(), epochs=2, source=[0, 1, 2, 3, 4])  # keyword order
    assert len(key) == 12 and all(c in "0123456789abcdef" for c in key)


@pytest.mark.parametrize("change", ["source", "target", "a setting", "images", "labels", "dtype", "shape",
                                    "architecture", "no data"])
def test_everything_the_training_depends_on_changes_the_fingerprint(change):
    settings = {"source": [0, 1, 2, 3, 4], "target": [5, 6, 7, 8, 9], "epochs": 2}
    model, x, y = _model(), X, Y
    key = fingerprint(model, x, y, **settings)
    if change == "source":
        settings["source"] = [5, 6, 7, 8, 9]
    elif change == "target":
        settings["target"] = [0, 1, 2, 3, 4]
    elif change == "a setting":
        settings["epochs"] = 3
    elif change == "images":
        x = X.copy()
        x[3, 2] += 1e-3
    elif change == "labels":
        y = Y.copy()
        y[0] = 2
    elif change == "dtype":
        x = X.astype(np.float64)
    elif change == "shape":
        x = X.reshape(20, 2)
    elif change == "architecture":
        model = _model(units=4)
    if change == "no data":
        assert fingerprint(model, **settings) != key
    else:
        assert fingerprint(model, x, y, **settings) != key


def test_swapping_a_setting_between_names_changes_the_fingerprint():
    assert fingerprint(_model(), source=[0, 1], target=[2, 3]) != fingerprint(_model(), source=[2, 3], target=[0, 1])


def test_fingerprint_of_non_numeric_data_is_a_clear_error():
    with pytest.raises(TypeError, match="data argument 2 is not an array of numbers"):
        fingerprint(_model(), X, [object()])


# --- save_atomic and cached_model -----------------------------------------------------------------------------


def test_save_atomic_leaves_only_the_file(tmp_path):
    model = _model()
    path = save_atomic(model, tmp_path / "sub" / "m.keras")
    assert path.is_file() and os.listdir(tmp_path / "sub") == ["m.keras"]
    restored = keras.models.load_model(path)
    assert np.allclose(restored(X), model(X))
    with pytest.raises(ValueError, match="must end in .keras"):
        save_atomic(model, tmp_path / "m.h5")


def test_a_failed_save_leaves_no_partial_file_and_keeps_the_old_one(tmp_path):
    path = save_atomic(_model(), tmp_path / "m.keras")
    before = path.read_bytes()

    class Broken:
        def save(self, filepath):
            with open(filepath, "wb") as handle:
                handle.write(b"half a model")
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        save_atomic(Broken(), path)
    assert os.listdir(tmp_path) == ["m.keras"] and path.read_bytes() == before


def test_cached_model_trains_once_then_loads(tmp_path):
    calls = []

    def train():
        calls.append(1)
        return _model()

    first, how = cached_model("base", "abc123", train, folder=tmp_path)
    assert calls == [1] and how.startswith("trained now; saved to ") and (tmp_path / "base_abc123.keras").is_file()
    second, how = cached_model("base", "abc123", train, folder=tmp_path)
    assert calls == [1] and how.startswith("loaded from the cache")
    assert np.allclose(second(X), first(X))
    cached_model("base", "other1", train, folder=tmp_path)  # another fingerprint: trained again
    assert calls == [1, 1]


def test_a_damaged_cache_file_is_trained_again_and_replaced(tmp_path):
    (tmp_path / "base_abc123.keras").write_bytes(b"not a zip file")
    model, how = cached_model("base", "abc123", _model, folder=tmp_path)
    assert how.startswith("the cached file could not be loaded") and "trained again" in how
    assert keras.models.load_model(tmp_path / "base_abc123.keras") is not None


def test_a_cache_folder_that_cannot_be_written_does_not_stop_the_chapter(tmp_path):
    folder = tmp_path / "a file, not a folder"
    folder.write_text("")
    model, how = cached_model("base", "abc123", _model, folder=folder)
    assert model is not None and how.startswith("trained now; not saved (") and "base_abc123.keras" in how


@pytest.mark.parametrize(("name", "key", "message"), [("", "abc", "plain file name"), ("a/b", "abc", "plain file name"),
                                                      ("base", "../x", "letters and digits"),
                                                      ("base", "", "letters and digits")])
def test_cached_model_refuses_bad_names_in_one_line(tmp_path, name, key, message):
    with pytest.raises(ValueError, match=message):
        cached_model(name, key, _model, folder=tmp_path)


def test_models_dir_follows_xdg_cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert models_dir() == tmp_path / "course" / "models"


# --- accuracy -------------------------------------------------------------------------------------------------


class _Counting:
    """A 'model' that records the batch sizes it is called with and predicts x[:, 0] rounded."""

    def __init__(self):
        self.sizes = []
        self.training = []

    def __call__(self, x, training=None):
        self.sizes.append(len(x))
        self.training.append(training)
        return np.eye(3)[np.asarray(x)[:, 0].astype(int) % 3]


def test_accuracy_goes_in_batches_in_inference_mode():
    x = np.repeat(np.arange(10)[:, None], 2, axis=1).astype(np.float32)
    y = np.arange(10) % 3
    y[:3] = (y[:3] + 1) % 3  # three wrong
    model = _Counting()
    assert accuracy(model, x, y, batch_size=4) == pytest.approx(0.7)
    assert model.sizes == [4, 4, 2] and set(model.training) == {False}


def test_accuracy_in_batches_equals_accuracy_at_once():
    model = _model()
    at_once = float(np.mean(np.argmax(model(X), axis=1) == Y))
    assert accuracy(model, X, Y, batch_size=3) == pytest.approx(at_once)
    assert accuracy(model, X, Y) == pytest.approx(at_once)


@pytest.mark.parametrize(("x", "y", "batch_size", "message"), [(X, Y[:5], 4, "10 images but 5 labels"),
                                                                (X[:0], Y[:0], 4, "no images"),
                                                                (X, Y, 0, "positive whole number"),
                                                                (X, Y, 2.5, "positive whole number"),
                                                                (X, Y, True, "positive whole number")])
def test_accuracy_says_what_is_wrong_in_one_line(x, y, batch_size, message):
    with pytest.raises(ValueError, match=message):
        accuracy(_model(), x, y, batch_size=batch_size)


def test_the_same_code_builds_the_same_architecture_whatever_names_keras_makes_up():
    from course.transfer import architecture

    def build():  # no names given: Keras numbers the input layer's and the convolution's names
        return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3),
                                 keras.layers.BatchNormalization(momentum=0.9)])

    first, second = build(), build()
    assert first.layers[0].name != second.layers[0].name
    assert architecture(first) == architecture(second) and fingerprint(first) == fingerprint(second)
    other = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3),
                              keras.layers.BatchNormalization(momentum=0.99)])
    assert fingerprint(other) != fingerprint(first)
    nested = keras.Sequential([keras.Input((8, 8, 1)), build(), keras.layers.Flatten()])
    assert architecture(first) in architecture(nested)
