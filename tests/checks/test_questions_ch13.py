"""Chapter 13 questions: a correct answer passes, typical wrong answers fail with a useful hint."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from course.checks import check

GIVEN = ["gpu-box-1:2222", "gpu-box-2:2222", "gpu-box-3:2222"]


def _text(feedback) -> str:
    return feedback.message + " " + (feedback.hint or "")


@pytest.mark.parametrize("qid", ["13.global_batch", "13.scaled_lr", "13.tf_config", "13.per_replica_batch"])
def test_the_committed_placeholder_fails(qid):
    feedback = check(qid, None)
    assert not feedback.passed and "None" in feedback.message


# --- 13.global_batch ---------------------------------------------------------------------------------------


def test_global_batch_right():
    assert check("13.global_batch", 288).passed
    assert check("13.global_batch", 96 * 3).passed
    assert check("13.global_batch", np.int64(288)).passed


@pytest.mark.parametrize(("answer", "part"), [(96, "per-replica"), (32, "divides"), (99, "adds"),
                                              (192, "3 GPUs"), (288.5, "whole number"), (300, "not the global"),
                                              (np.array([288]), "one whole number"), ([96, 96, 96], "one whole number"),
                                              ("288", "str"), (True, "bool")])
def test_global_batch_slips(answer, part):
    feedback = check("13.global_batch", answer)
    assert not feedback.passed and part in _text(feedback)


# --- 13.scaled_lr ------------------------------------------------------------------------------------------


def test_scaled_lr_right():
    assert check("13.scaled_lr", lambda lr, base, new: lr * new / base).passed
    assert check("13.scaled_lr", lambda lr, base, new: lr * (new / base)).passed


@pytest.mark.parametrize(("answer", "part"), [
    (lambda lr, base, new: lr, "did not change"),
    (lambda lr, base, new: lr * base / new, "upside down"),
    (lambda lr, base, new: lr * math.sqrt(new / base), "square-root"),
    (lambda lr, base, new: lr * new, "new batch itself"),
    (lambda lr, base, new: None, "return"),
    (lambda lr, base: lr, "TypeError"),
    (0.4, "function"),
])
def test_scaled_lr_slips(answer, part):
    feedback = check("13.scaled_lr", answer)
    assert not feedback.passed and part in _text(feedback)


def test_scaled_lr_a_rounded_ratio_or_result_fails_publicly():
    floor = check("13.scaled_lr", lambda lr, base, new: lr * (new // base))
    assert not floor.passed and "rounded down" in _text(floor) and "Use / rather than //" in _text(floor)
    rounded = check("13.scaled_lr", lambda lr, base, new: round(lr * new / base, 2))
    assert not rounded.passed and "scaled_learning_rate(0.003, 128, 320)" in rounded.message


def test_scaled_lr_that_never_lowers_the_rate_passes_publicly_but_a_hidden_case_catches_it(monkeypatch):
    only_up = lambda lr, base, new: lr * max(new / base, 1)  # noqa: E731
    monkeypatch.delenv("COURSE_GRADING", raising=False)
    assert check("13.scaled_lr", only_up).passed
    monkeypatch.setenv("COURSE_GRADING", "1")
    graded = check("13.scaled_lr", only_up)
    assert not graded.passed and "the rate goes down too" in graded.message


# --- 13.tf_config ------------------------------------------------------------------------------------------


def _right(workers, index):
    return {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}


def test_tf_config_right_and_usable_as_json(monkeypatch):
    assert check("13.tf_config", _right).passed
    reordered = lambda w, i: {"task": {"index": i, "type": "worker"}, "cluster": {"worker": tuple(w)}}  # noqa: E731
    assert check("13.tf_config", reordered).passed
    monkeypatch.setenv("COURSE_GRADING", "1")
    assert check("13.tf_config", _right).passed
    assert json.loads(json.dumps(_right(GIVEN, 1)))["task"]["index"] == 1


@pytest.mark.parametrize(("answer", "part"), [
    (lambda w, i: json.dumps(_right(w, i)), "json.dumps"),
    (lambda w, i: {"cluster": {"worker": w}}, "missing ['task']"),
    (lambda w, i: {**_right(w, i), "index": i}, "unexpected"),
    (lambda w, i: _right([w[i]], i), "this worker only"),
    (lambda w, i: _right(list(reversed(w)), i), "order"),
    (lambda w, i: _right(w[:2], i), "not the cluster given"),
    (lambda w, i: {"cluster": w, "task": {"type": "worker", "index": i}}, "one job, 'worker'"),
    (lambda w, i: {"cluster": {"worker": w}, "task": {"type": "chief", "index": i}}, "'worker' job"),
    (lambda w, i: {"cluster": {"worker": w}, "task": {"type": "worker", "index": str(i)}}, "not str(index)"),
    (lambda w, i: {"cluster": {"worker": w}, "task": {"type": "worker", "index": 0}}, "worker 0"),
    (lambda w, i: {"cluster": {"worker": w}, "task": {"type": "worker", "index": np.int64(i)}}, "JSON"),
    (lambda w, i: {"cluster": {"worker": w}, "task": {"type": "worker"}}, "'type' and 'index'"),
    (lambda w, i: None, "return"),
])
def test_tf_config_slips(answer, part):
    feedback = check("13.tf_config", answer)
    assert not feedback.passed and part in _text(feedback), str(feedback)


def test_tf_config_hard_coded_for_the_given_cluster_fails_the_hidden_clusters(monkeypatch):
    hard_coded = lambda workers, index: _right(list(GIVEN), index)  # noqa: E731
    monkeypatch.delenv("COURSE_GRADING", raising=False)
    assert check("13.tf_config", hard_coded).passed
    monkeypatch.setenv("COURSE_GRADING", "1")
    graded = check("13.tf_config", hard_coded)
    assert not graded.passed and graded.message.startswith("Hidden case ")


# --- 13.per_replica_batch ----------------------------------------------------------------------------------


def test_per_replica_batch_right(monkeypatch):
    assert check("13.per_replica_batch", lambda g, n: g // n).passed
    assert check("13.per_replica_batch", lambda g, n: g / n).passed   # 128.0 is a whole number of examples
    monkeypatch.setenv("COURSE_GRADING", "1")
    assert check("13.per_replica_batch", lambda g, n: g // n).passed


@pytest.mark.parametrize(("answer", "part"), [
    (lambda g, n: g * n, "multiplies"),
    (lambda g, n: g, "not split"),
    (lambda g, n: g // 2, "not strategy.num_replicas_in_sync"),
    (lambda g, n: g / n + 0.5, "whole number"),
    (lambda g, n: g // n + 1, "is 128 each"),
    (lambda g, n: None, "return"),
])
def test_per_replica_batch_slips(answer, part):
    feedback = check("13.per_replica_batch", answer)
    assert not feedback.passed and part in _text(feedback), str(feedback)


# --- chapter results ---------------------------------------------------------------------------------------


def test_custom_loop_matches():
    fit = [1.277669, 0.843533]
    assert check("13.custom_loop_matches", {"fit": fit, "custom": [1.2776691, 0.843533], "replicas": 2}).passed
    per_replica = check("13.custom_loop_matches", {"fit": fit, "custom": [2 * v for v in fit], "replicas": 2})
    assert not per_replica.passed and "global batch" in per_replica.hint
    mean = check("13.custom_loop_matches", {"fit": fit, "custom": [v / 2 for v in fit], "replicas": 2})
    assert not mean.passed and "use SUM" in mean.hint
    other = check("13.custom_loop_matches", {"fit": fit, "custom": [1.3, 0.9], "replicas": 2})
    assert not other.passed and "same initial weights" in other.hint
    short = check("13.custom_loop_matches", {"fit": fit, "custom": fit[:1], "replicas": 2})
    assert not short.passed and "same epochs" in short.hint
    assert not check("13.custom_loop_matches", [fit, fit]).passed


def test_workers_agree():
    one = [2.3, 1.3, 0.95, 0.83]
    assert check("13.workers_agree", {"one_device": one, "workers": [one, [v + 1e-6 for v in one]]}).passed
    apart = check("13.workers_agree", {"one_device": one, "workers": [one, [v + 0.1 for v in one]]})
    assert not apart.passed and "did not train one model together" in apart.message
    both_off = check("13.workers_agree", {"one_device": one, "workers": [[v + 0.1 for v in one]] * 2})
    assert not both_off.passed and "global batch" in both_off.hint
    drift = np.linspace(0, 2e-4, 300)  # float sums in another order, 300 steps: a slow drift, not a different run
    long = list(np.linspace(2.3, 0.57, 300))
    assert check("13.workers_agree", {"one_device": long, "workers": [list(long + drift)] * 2}).passed
    early = check("13.workers_agree", {"one_device": long, "workers": [[long[0] + 0.01] + long[1:]] * 2})
    assert not early.passed and "differ from one device" in early.message
    fewer = check("13.workers_agree", {"one_device": one, "workers": [one[:2], one[:2]]})
    assert not fewer.passed and "same number of steps" in fewer.hint
    alone = check("13.workers_agree", {"one_device": one, "workers": [one]})
    assert not alone.passed and "at least two" in alone.message
