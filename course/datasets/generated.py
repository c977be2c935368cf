"""Small generated datasets for the early chapters, deterministic under a seed."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def regression_points() -> tuple[np.ndarray, np.ndarray]:
    """The four points of the linear-regression chapter: (1,6), (2,5), (3,7), (4,10)."""
    return np.array([1, 2, 3, 4], dtype=np.float32), np.array([6, 5, 7, 10], dtype=np.float32)


def noisy_sine(n: int = 5000, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points of y = sin(x) + Gaussian noise, x uniform in [0, 2π); both shaped (n, 1), float32."""
    if n <= 0 or noise < 0:
        raise ValueError(f"need n > 0 and noise >= 0, got n={n}, noise={noise}")
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 2 * np.pi, size=(n, 1))
    y = np.sin(x) + rng.normal(0.0, noise, size=(n, 1))
    return x.astype(np.float32), y.astype(np.float32)


@dataclass
class TakeoffData:
    """Airplane take-off: speed (km/h) and weight (t) in, runway distance (m) out."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    feature_names: tuple[str, str] = ("speed_kmh", "weight_t")
    target_name: str = "distance_m"


def _takeoff_rows(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    speed = rng.uniform(300.0, 320.0, n)
    weight = rng.uniform(220.0, 300.0, n)
    # Both raise the distance; weight more strongly (70 % of the range against 30 %).
    distance = 1500.0 + 800.0 * (0.3 * (speed - 300.0) / 20.0 + 0.7 * (weight - 220.0) / 80.0)
    distance += rng.normal(0.0, 15.0, n)
    x = np.stack([speed, weight], axis=1).astype(np.float32)
    return x, np.clip(distance, 1500.0, 2300.0).astype(np.float32).reshape(-1, 1)


def takeoff(n_train: int = 800, n_test: int = 200, seed: int = 0) -> TakeoffData:
    """Separate train and test sets of take-off distances (about 1,500-2,300 m)."""
    if n_train <= 0 or n_test <= 0:
        raise ValueError(f"need n_train > 0 and n_test > 0, got {n_train} and {n_test}")
    rng = np.random.default_rng(seed)
    x_train, y_train = _takeoff_rows(n_train, rng)
    x_test, y_test = _takeoff_rows(n_test, rng)
    return TakeoffData(x_train, y_train, x_test, y_test)


@dataclass
class HelloData:
    """The characters of "hello": input "hell" one-hot (1, 4, 4), target "ello" as indices (1, 4)."""

    chars: list[str]
    index: dict[str, int]
    x: np.ndarray
    y: np.ndarray

    def decode(self, indices) -> str:
        return "".join(self.chars[int(i)] for i in np.ravel(indices))


def hello() -> HelloData:
    chars = ["h", "e", "l", "o"]
    index = {c: i for i, c in enumerate(chars)}
    x = np.eye(len(chars), dtype=np.float32)[[index[c] for c in "hell"]][None]
    y = np.array([[index[c] for c in "ello"]], dtype=np.int32)
    return HelloData(chars, index, x, y)


# A tiny grammar whose ambiguous words ("book", "watch", "fly", "park", "play", "run") are nouns or verbs
# depending on their neighbours, so a model that sees the sentence beats one that sees a word alone.
_LEXICON = {
    "DET": ["the", "a", "this", "every"],
    "ADJ": ["small", "red", "old", "quick", "happy", "big"],
    "NOUN": ["dog", "cat", "student", "book", "watch", "park", "teacher", "fly", "play", "run", "bird", "city"],
    "VERB": ["see", "like", "read", "book", "watch", "park", "fly", "play", "run", "find"],
    "PRON": ["i", "you", "we", "they"],
    "ADP": ["in", "on", "near", "with"],
    "ADV": ["quickly", "often", "today", "slowly"],
}
_THIRD_PERSON = {"watch": "watches", "fly": "flies"}
_TEMPLATES = [
    ["DET", "ADJ?", "NOUN", "VERB3", "DET", "ADJ?", "NOUN", "PP?"],
    ["PRON", "VERB", "DET", "NOUN", "ADV?"],
    ["PRON", "VERB", "ADP", "DET", "ADJ?", "NOUN"],
    ["DET", "NOUN", "VERB3", "ADV"],
    ["PRON", "ADV", "VERB", "DET", "NOUN", "PP?"],
]


@dataclass
class PosCorpus:
    """Part-of-speech-tagged sentences, vocabularies (0 = padding, 1 = unknown word) and padded id arrays."""

    train_sentences: list[list[tuple[str, str]]]
    test_sentences: list[list[tuple[str, str]]]
    word_vocab: dict[str, int]
    tag_vocab: dict[str, int]
    max_len: int
    x_train: np.ndarray = field(repr=False, default=None)
    y_train: np.ndarray = field(repr=False, default=None)
    x_test: np.ndarray = field(repr=False, default=None)
    y_test: np.ndarray = field(repr=False, default=None)

    def encode(self, sentences: list[list[tuple[str, str]]]) -> tuple[np.ndarray, np.ndarray]:
        x = np.zeros((len(sentences), self.max_len), dtype=np.int32)
        y = np.zeros((len(sentences), self.max_len), dtype=np.int32)
        for row, sentence in enumerate(sentences):
            for col, (word, tag) in enumerate(sentence[: self.max_len]):
                x[row, col] = self.word_vocab.get(word, 1)
                y[row, col] = self.tag_vocab[tag]
        return x, y

    def decode_tags(self, ids) -> list[str]:
        names = {i: t for t, i in self.tag_vocab.items()}
        return [names[int(i)] for i in np.ravel(ids) if int(i) != 0]


def _sentence(rng: np.random.Generator) -> list[tuple[str, str]]:
    words: list[tuple[str, str]] = []
    for slot in _TEMPLATES[rng.integers(len(_TEMPLATES))]:
        if slot.endswith("?"):
            if rng.random() < 0.5:
                continue
            slot = slot[:-1]
        if slot == "PP":
            for tag in ("ADP", "DET", "NOUN"):
                words.append((str(rng.choice(_LEXICON[tag])), tag))
            continue
        tag = "VERB" if slot == "VERB3" else slot
        word = str(rng.choice(_LEXICON[tag]))
        if slot == "VERB3":
            word = _THIRD_PERSON.get(word, word + "s")
        words.append((word, tag))
    return words


def pos_corpus(n_train: int = 600, n_test: int = 150, seed: int = 0) -> PosCorpus:
    """A small tagged corpus for sequence tagging, with a held-out test set (unseen words map to 1, UNK)."""
    rng = np.random.default_rng(seed)
    train = [_sentence(rng) for _ in range(n_train)]
    test = [_sentence(rng) for _ in range(n_test)]
    words = sorted({w for s in train for w, _ in s})
    tags = sorted({t for s in train + test for _, t in s})
    corpus = PosCorpus(train, test, {"<pad>": 0, "<unk>": 1, **{w: i + 2 for i, w in enumerate(words)}},
                       {"<pad>": 0, **{t: i + 1 for i, t in enumerate(tags)}},
                       max(len(s) for s in train + test))
    corpus.x_train, corpus.y_train = corpus.encode(train)
    corpus.x_test, corpus.y_test = corpus.encode(test)
    return corpus
