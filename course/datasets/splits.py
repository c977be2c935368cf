"""Step 5, split: train/validation/test splits with the classic ``next_batch`` API and a ``tf.data`` pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf

CLASSIC_VALIDATION = 5000  # examples of the full training set held out for validation


class DataSet:
    """Images and labels of one split. ``next_batch`` walks it in shuffled epochs, like TensorFlow 1's MNIST helper."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, *, seed: int = 0) -> None:
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels: give one label per image")
        self.images = images
        self.labels = labels
        self.epochs_completed = 0
        self._seed = seed
        self._rng = np.random.default_rng(seed)
        self._order = np.arange(len(images))
        self._position = len(images)  # the first call starts (and shuffles) epoch 0
        self._started = False

    @property
    def num_examples(self) -> int:
        return len(self.images)

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        return f"DataSet(images={self.images.shape}, labels={self.labels.shape})"

    def next_batch(self, batch_size: int, shuffle: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """The next ``batch_size`` examples; a new epoch starts (reshuffled) when this one runs out."""
        if not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if self.num_examples == 0:
            raise ValueError("this split is empty: there is nothing to batch")
        parts: list[np.ndarray] = []
        needed = int(batch_size)
        while needed:
            if self._position >= self.num_examples:
                self._start_epoch(shuffle)
            take = min(needed, self.num_examples - self._position)
            parts.append(self._order[self._position:self._position + take])
            self._position += take
            needed -= take
        index = np.concatenate(parts)
        return self.images[index], self.labels[index]

    def _start_epoch(self, shuffle: bool) -> None:
        if self._started:
            self.epochs_completed += 1
        self._started = True
        self._order = self._rng.permutation(self.num_examples) if shuffle else np.arange(self.num_examples)
        self._position = 0

    def take(self, n: int) -> DataSet:
        """A new split with the first ``n`` examples (for fast runs)."""
        if n < 0:
            raise ValueError(f"n must be zero or more, got {n}")
        return DataSet(self.images[:n], self.labels[:n], seed=self._seed)

    def to_tf_dataset(self, batch_size: int = 100, shuffle: bool = True, seed: int | None = None,
                      repeat: bool = False) -> tf.data.Dataset:
        """A batched, shuffled (reshuffled each epoch) and prefetched ``tf.data.Dataset`` of (images, labels)."""
        import tensorflow as tf

        if batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        dataset = tf.data.Dataset.from_tensor_slices((self.images, self.labels))
        if shuffle:
            dataset = dataset.shuffle(self.num_examples, seed=self._seed if seed is None else seed,
                                      reshuffle_each_iteration=True)
        if repeat:
            dataset = dataset.repeat()
        return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


@dataclass
class Datasets:
    """The three splits of a dataset, with where it came from and whether it is the full set."""

    name: str
    train: DataSet
    validation: DataSet
    test: DataSet
    class_names: list[str]
    source: Path
    full: bool
    verified: bool

    def summary(self) -> str:
        """One line: name, split sizes, full or subset, verified or not, and the source."""
        kind = "full set" if self.full else "SUBSET (not the full dataset)"
        check = "checksum verified" if self.verified else "unverified"
        return (f"{self.name}: {self.train.num_examples:,} train / {self.validation.num_examples:,} validation / "
                f"{self.test.num_examples:,} test, {kind}, {check}, from {self.source}")

    def __repr__(self) -> str:
        return f"<Datasets {self.summary()}>"


def one_hot(labels: np.ndarray, classes: int = 10) -> np.ndarray:
    """Integer labels (N,) to float32 one-hot rows (N, classes)."""
    out = np.zeros((len(labels), classes), dtype=np.float32)
    out[np.arange(len(labels)), labels.astype(np.int64)] = 1.0
    return out


def build_splits(arrays: dict[str, np.ndarray], *, full_train: int, validation_size: int | None, one_hot_labels: bool,
                 flatten: bool, seed: int) -> tuple[DataSet, DataSet, DataSet]:
    """Scale images to float32 [0, 1] and hold out the first ``validation_size`` training examples: by default
    5,000 of the full set's ``full_train`` (60,000), the same share of a subset (714 of the npm digits' 8,571)."""
    def images(x: np.ndarray) -> np.ndarray:
        x = np.divide(x, np.float32(255.0), dtype=np.float32)  # one pass, same values as astype then divide
        return x.reshape(len(x), -1) if flatten else x

    def labels(y: np.ndarray) -> np.ndarray:
        y = y.astype(np.int64)
        return one_hot(y) if one_hot_labels else y

    x_train, y_train = arrays["x_train"], arrays["y_train"]
    v = round(len(x_train) * CLASSIC_VALIDATION / full_train) if validation_size is None else validation_size
    if not 0 <= v < len(x_train):
        raise ValueError(f"validation_size must be between 0 and {len(x_train) - 1}, got {v}")
    return (DataSet(images(x_train[v:]), labels(y_train[v:]), seed=seed),
            DataSet(images(x_train[:v]), labels(y_train[:v]), seed=seed + 1),
            DataSet(images(arrays["x_test"]), labels(arrays["y_test"]), seed=seed + 2))
