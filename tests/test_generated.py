"""The small generated datasets of the early chapters."""

import numpy as np
import pytest

from course.datasets import hello, noisy_sine, pos_corpus, regression_points, takeoff


def test_regression_points_are_the_classic_four():
    x, y = regression_points()
    assert x.tolist() == [1, 2, 3, 4] and y.tolist() == [6, 5, 7, 10]


def test_noisy_sine_is_seeded_and_in_range():
    x, y = noisy_sine()
    assert x.shape == y.shape == (5000, 1)
    assert 0 <= x.min() and x.max() < 2 * np.pi
    assert np.corrcoef(np.sin(x).ravel(), y.ravel())[0, 1] > 0.98
    np.testing.assert_array_equal(noisy_sine(seed=1)[1], noisy_sine(seed=1)[1])
    assert not np.array_equal(noisy_sine(seed=1)[1], noisy_sine(seed=2)[1])
    with pytest.raises(ValueError, match="n > 0"):
        noisy_sine(n=0)


def test_takeoff_ranges_and_weight_matters_more():
    data = takeoff()
    assert data.x_train.shape == (800, 2) and data.y_test.shape == (200, 1)
    speed, weight = data.x_train[:, 0], data.x_train[:, 1]
    assert 300 <= speed.min() and speed.max() <= 320 and 220 <= weight.min() and weight.max() <= 300
    assert 1500 <= data.y_train.min() and data.y_train.max() <= 2300
    coef, *_ = np.linalg.lstsq(np.c_[(speed - 300) / 20, (weight - 220) / 80, np.ones_like(speed)],
                               data.y_train.ravel(), rcond=None)
    assert 0 < coef[0] < coef[1]  # both rise, weight more strongly
    assert not np.array_equal(data.x_train[:200], data.x_test)


def test_hello_one_hot():
    data = hello()
    assert data.x.shape == (1, 4, 4) and data.x.sum() == 4
    assert data.decode(data.x[0].argmax(axis=1)) == "hell" and data.decode(data.y) == "ello"


def test_pos_corpus_vocabularies_padding_and_ambiguity():
    corpus = pos_corpus()
    assert len(corpus.train_sentences) == 600 and len(corpus.test_sentences) == 150
    assert corpus.x_train.shape == corpus.y_train.shape == (600, corpus.max_len)
    assert corpus.word_vocab["<pad>"] == 0 and corpus.tag_vocab["<pad>"] == 0
    lengths = (corpus.x_train != 0).sum(axis=1)
    assert lengths.tolist() == [len(s) for s in corpus.train_sentences]
    assert corpus.decode_tags(corpus.y_train[0]) == [t for _, t in corpus.train_sentences[0]]
    tags_of_book = {t for s in corpus.train_sentences for w, t in s if w == "book"}
    assert tags_of_book == {"NOUN", "VERB"}  # context decides the tag
    np.testing.assert_array_equal(pos_corpus(seed=5).x_test, pos_corpus(seed=5).x_test)
