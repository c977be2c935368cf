"""Chapter 07 questions: a correct answer passes, typical wrong answers fail with a useful hint."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from course.checks import check
from course.checks.questions import ch07

# --- 07.hello_prediction -----------------------------------------------------------------------------------


def test_hello_prediction_accepts_ello():
    assert check("07.hello_prediction", "ello").passed


@pytest.mark.parametrize(
    ("answer", "part"),
    [
        (["e", "l", "l", "o"], "join"),
        (np.array([1, 2, 2, 3]), "indices"),
        ("hell", "input"),
        ("elll", "second"),
        ("hello", "whole word"),
        ("oooo", "Train longer"),
        (3, "string"),
    ],
)
def test_hello_prediction_wrong_answers(answer, part):
    feedback = check("07.hello_prediction", answer)
    assert not feedback.passed
    assert part in feedback.message + (feedback.hint or "")


def test_hello_dataset_decodes_to_ello():
    """The dataset's target really is "ello", so the notebook's check is meaningful."""
    from course.datasets import hello

    data = hello()
    assert data.decode(data.y) == "ello"
    assert check("07.one_hot_hell", data.x).passed


# --- 07.one_hot_hell ---------------------------------------------------------------------------------------


def test_one_hot_hell_accepts_numpy_and_tensorflow():
    assert check("07.one_hot_hell", np.eye(4)[[0, 1, 2, 2]]).passed
    assert check("07.one_hot_hell", tf.one_hot([0, 1, 2, 2], 4)).passed


def test_one_hot_hell_wrong_answers():
    indices = check("07.one_hot_hell", [0, 1, 2, 2])
    assert not indices.passed and "indices" in indices.message
    transposed = check("07.one_hot_hell", np.eye(4)[[0, 1, 2, 2]].T)
    assert not transposed.passed and "transposed" in transposed.message
    target = check("07.one_hot_hell", np.eye(4)[[1, 2, 2, 3]])
    assert not target.passed and "ello" in target.message
    not_binary = check("07.one_hot_hell", np.full((4, 4), 0.25))
    assert not not_binary.passed and "0s and 1s" in not_binary.message


# --- 07.rnn_params and 07.lstm_params ----------------------------------------------------------------------


def _params(layer) -> int:
    import keras

    model = keras.Sequential([keras.Input(shape=(None, 4)), layer])
    return model.layers[0].count_params()


def test_parameter_counts_match_keras():
    import keras

    assert check("07.rnn_params", _params(keras.layers.SimpleRNN(5))).passed
    assert check("07.lstm_params", _params(keras.layers.LSTM(5))).passed


def test_parameter_counts_wrong_answers():
    import keras

    no_bias = check("07.rnn_params", 45)
    assert not no_bias.passed and "biases" in no_bias.hint
    lstm_as_rnn = check("07.rnn_params", 200)
    assert not lstm_as_rnn.passed and "LSTM" in lstm_as_rnn.hint
    rnn_as_lstm = check("07.lstm_params", 50)
    assert not rnn_as_lstm.passed and "four" in rnn_as_lstm.hint
    gru = check("07.lstm_params", _params(keras.layers.GRU(5)))
    assert not gru.passed and "GRU" in gru.hint
    fraction = check("07.lstm_params", 200.5)
    assert not fraction.passed and "whole number" in fraction.message


# --- 07.masked_loss ----------------------------------------------------------------------------------------


def test_masked_loss_accepts_the_masked_mean():
    mask = ch07.LOSS_LABELS != 0
    assert check("07.masked_loss", float(np.sum(ch07.TOKEN_LOSSES * mask) / np.sum(mask))).passed
    assert check("07.masked_loss", tf.constant(0.54)).passed
    assert check("07.masked_loss", np.mean(ch07.TOKEN_LOSSES[mask])).passed   # the same mean, by boolean indexing


def test_masked_loss_numbers_tell_the_averages_apart():
    """The per-sentence mean, the unmasked mean and the token mean must all differ, or a wrong method passes."""
    mask = ch07.LOSS_LABELS != 0
    token_mean = np.sum(ch07.TOKEN_LOSSES * mask) / np.sum(mask)
    per_sentence = np.mean([row[keep].mean() for row, keep in zip(ch07.TOKEN_LOSSES, mask)])
    assert np.isclose(token_mean, ch07.MASKED_MEAN)
    assert np.isclose(per_sentence, ch07.PER_SENTENCE_MEAN)
    assert np.isclose(ch07.TOKEN_LOSSES.mean(), ch07.UNMASKED_MEAN)
    assert abs(per_sentence - token_mean) > 0.01
    assert not check("07.masked_loss", per_sentence).passed


@pytest.mark.parametrize(("answer", "part"),
                         [(0.9, "padding included"), (2.7, "Divide"), (2.7 / 8, "5"), (0.5, "each sentence"),
                          (0.3, "not"), (54.0, "not")])
def test_masked_loss_wrong_answers(answer, part):
    feedback = check("07.masked_loss", answer)
    assert not feedback.passed
    assert part in feedback.message + (feedback.hint or "")


# --- 07.masked_accuracy ------------------------------------------------------------------------------------


def test_masked_accuracy_accepts_numpy_and_tensorflow_versions():
    def numpy_version(y_true, y_pred):
        mask = y_true != 0
        return np.mean(y_pred[mask] == y_true[mask])

    def tf_version(y_true, y_pred):
        mask = tf.not_equal(y_true, 0)
        hits = tf.cast(tf.equal(y_true, y_pred), tf.float32)
        return tf.reduce_sum(hits * tf.cast(mask, tf.float32)) / tf.reduce_sum(tf.cast(mask, tf.float32))

    assert check("07.masked_accuracy", numpy_version).passed
    assert check("07.masked_accuracy", tf_version).passed


def test_masked_accuracy_wrong_versions_get_hints():
    counts_pads = check("07.masked_accuracy", lambda y_true, y_pred: np.mean(y_pred == y_true))
    assert not counts_pads.passed and "Padding" in counts_pads.hint
    percent = check("07.masked_accuracy", lambda t, p: 100 * np.mean(p[t != 0] == t[t != 0]))
    assert not percent.passed and "percentage" in percent.hint
    no_return = check("07.masked_accuracy", lambda t, p: None)
    assert not no_return.passed and "return" in no_return.hint
    not_a_function = check("07.masked_accuracy", 0.9)
    assert not not_a_function.passed and "function" in not_a_function.message
    count = check("07.masked_accuracy", lambda t, p: np.sum(p[t != 0] == t[t != 0]))
    assert not count.passed and "number of right words" in count.hint
    per_sentence = check("07.masked_accuracy",
                         lambda t, p: np.mean([np.mean((pp == tt)[tt != 0]) for tt, pp in zip(t, p)]))
    assert not per_sentence.passed and "each sentence" in per_sentence.hint


# --- 07.pos_accuracy ---------------------------------------------------------------------------------------


def test_pos_accuracy_floor_is_above_a_per_word_tagger():
    """The floor must beat the best tagger that looks at each word alone (its most frequent tag)."""
    from collections import Counter, defaultdict

    from course.datasets import pos_corpus

    corpus = pos_corpus()
    counts = defaultdict(Counter)
    for sentence in corpus.train_sentences:
        for word, tag in sentence:
            counts[word][tag] += 1
    test = [(w, t) for s in corpus.test_sentences for w, t in s]
    majority = np.mean([counts[w].most_common(1)[0][0] == t if w in counts else False for w, t in test])
    assert majority < ch07.POS_ACCURACY_FLOOR
    assert not check("07.pos_accuracy", majority).passed


def test_pos_accuracy():
    assert check("07.pos_accuracy", 0.99).passed
    assert check("07.pos_accuracy", 1.0).passed
    percent = check("07.pos_accuracy", 99.0)
    assert not percent.passed and "percentage" in percent.hint
    low = check("07.pos_accuracy", 0.92)
    assert not low.passed and "return_sequences" in low.hint


def test_masked_loss_edges():
    assert check("07.masked_loss", 0.54 + 0.9e-4).passed
    assert not check("07.masked_loss", 0.54 + 1.1e-4).passed
    assert "padding included" in check("07.masked_loss", 0.9 - 0.9e-4).message
    assert "padding included" not in check("07.masked_loss", 0.9 - 1.1e-4).message
