"""Chapter 13 (distributed training): global and per-replica batches, the linear scaling rule, TF_CONFIG, and the
chapter's own runs (the custom loop matches model.fit; two workers train like one device, to float rounding)."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from course.checks.authoring import (
    Wrong,
    call_student,
    close,
    expect_array,
    expect_number,
    expect_whole_number,
    hidden_case,
)
from course.checks.catalog import RESULT, question
from course.checks.describe import describe, short

# Exercise 1: the lab's workstation (3 GPUs), 96 examples per GPU and step.
WORKSTATION_GPUS = 3
WORKSTATION_PER_REPLICA = 96

# Exercise 3: the cluster the exercise gives (three GPU machines of the lab).
GIVEN_WORKERS = ["gpu-box-1:2222", "gpu-box-2:2222", "gpu-box-3:2222"]

# Losses of the chapter's runs agree within this much (float sums in another order differ by about 1e-6).
LOSS_TOL = 1e-4
# Step by step, two runs that add the same numbers in another order drift apart slowly (about 2e-4 after 300 SGD
# steps): the first DRIFT_FREE_STEPS steps must agree within LOSS_TOL, every step within DRIFT_TOL.
DRIFT_FREE_STEPS = 10
DRIFT_TOL = 1e-2


@question(
    "13.global_batch",
    title="The global batch of one step on the lab's 3-GPU workstation, 96 examples per GPU",
    hint="Every replica (GPU) takes its own 96 examples per step: global batch = per-replica batch × replicas.",
)
def global_batch(answer: Any) -> str:
    if isinstance(answer, (list, tuple)) or getattr(answer, "ndim", 0) > 0:
        raise Wrong(f"The global batch is {describe(answer)}; expected one whole number.",
                    hint="Give the number itself (for example 3 * 96), not a list or an array.")
    value = expect_whole_number(answer, name="the global batch", hint="A batch is a whole number of examples.")
    per, gpus = WORKSTATION_PER_REPLICA, WORKSTATION_GPUS
    slips = {
        per: ("96 is the per-replica batch: what one GPU computes.", "Multiply by the number of GPUs, 3."),
        per // gpus: ("32 divides the per-replica batch by the GPUs.",
                      "Each GPU gets 96 examples of its own; the step as a whole handles 3 × 96."),
        per + gpus: ("99 adds the GPUs to the batch.", "Multiply instead: 96 × 3."),
        per * 2: ("192 is the global batch with 2 replicas, like this notebook's.",
                  "The workstation has 3 GPUs, one replica each."),
    }
    if value in slips:
        message, hint = slips[value]
        raise Wrong(message, hint=hint)
    if value != per * gpus:
        raise Wrong(f"{value} is not the global batch of 3 GPUs with 96 examples each.")
    return "Right: 3 × 96 = 288 examples per step; strategy.num_replicas_in_sync is the 3."


# --- exercise 2: the linear scaling rule -------------------------------------------------------------------


def _scaled_case(answer: Any, base_lr: float, base_batch: int, new_batch: int, what: str | None = None) -> None:
    expected = base_lr * new_batch / base_batch
    name = what or f"scaled_learning_rate({base_lr}, {base_batch}, {new_batch})"
    result = call_student(answer, base_lr, base_batch, new_batch, name="scaled_learning_rate")
    if result is None:
        raise Wrong("scaled_learning_rate(...) returned None.", hint="End the function with return ... .")
    value = expect_number(result, expected, tol=1e12, name=name)
    if close(value, expected, tol=0.0, rel=1e-6):
        return
    ratio = new_batch / base_batch
    slips = []
    if ratio != math.floor(ratio):  # a function that passed the whole ratios but rounds the others
        slips.append((base_lr * math.floor(ratio), f"The ratio {ratio:g} was rounded down to {math.floor(ratio)}.",
                      "Use / rather than //: the ratio of the batches need not be a whole number."))
    if ratio != 1:
        slips += [
            (base_lr, "The learning rate did not change with the batch.",
             "The linear rule multiplies it by global batch / base batch."),
            (base_lr * base_batch / new_batch, "The ratio is upside down.",
             "Multiply by new batch / base batch, not base / new."),
            (base_lr * math.sqrt(ratio), "That is the square-root rule (sometimes used with Adam).",
             "The linear rule scales by the ratio itself, not its square root."),
            (base_lr * new_batch, "The learning rate was multiplied by the new batch itself.",
             "Multiply by the ratio new batch / base batch."),
        ]
    for slip, message, hint in slips:
        if close(value, slip, tol=0.0, rel=1e-6):
            raise Wrong(f"{name} = {short(value)}: {message}", hint=hint)
    expect_number(value, expected, tol=0.0, rel=1e-6, name=name)


_HIDDEN_SCALED = [
    hidden_case(_scaled_case, 0.1, 64, 96, "a batch 1.5 times the base batch (64 -> 96)"),
    hidden_case(_scaled_case, 0.2, 256, 128, "a batch half the base batch (256 -> 128): the rate goes down too"),
    hidden_case(_scaled_case, 0.001, 100, 800, "base batch 100, global batch 800"),
]


@question(
    "13.scaled_lr",
    title="A function scaled_learning_rate(base_lr, base_batch, global_batch): the linear scaling rule",
    hint="The learning rate grows with the batch: base_lr * global_batch / base_batch.",
    hidden=_HIDDEN_SCALED,
)
def scaled_lr(answer: Any) -> None:
    for case in [(0.1, 256, 1024), (0.01, 64, 192), (0.05, 32, 32), (0.003, 128, 320)]:
        _scaled_case(answer, *case)


# --- exercise 3: TF_CONFIG -------------------------------------------------------------------------------


def _tf_config_case(answer: Any, workers: list[str], index: int, what: str | None = None) -> None:
    name = what or f"tf_config({workers}, {index})"
    result = call_student(answer, list(workers), index, name="tf_config")
    if result is None:
        raise Wrong("tf_config(...) returned None.", hint="End the function with return {...}.")
    if isinstance(result, str):
        raise Wrong(f"{name} returned a string, not a dict.",
                    hint="Return the dict itself; json.dumps(your_dict) is what goes into os.environ['TF_CONFIG'].")
    if not isinstance(result, dict):
        raise Wrong(f"{name} returned {describe(result)}; expected a dict with the keys 'cluster' and 'task'.")
    keys = set(result)
    if keys != {"cluster", "task"}:
        missing, extra = sorted({"cluster", "task"} - keys), sorted(map(str, keys - {"cluster", "task"}))
        parts = ([f"missing {missing}"] if missing else []) + ([f"unexpected {extra}"] if extra else [])
        raise Wrong(f"{name} has the keys {sorted(map(str, keys))}: {', '.join(parts)}.",
                    hint="TF_CONFIG has two keys: 'cluster' (every address, by job) and 'task' (this process).")
    cluster, task = result["cluster"], result["task"]
    if not isinstance(cluster, dict) or set(cluster) != {"worker"}:
        raise Wrong(f"'cluster' is {short(cluster)}; expected a dict with one job, 'worker'.",
                    hint="{'worker': [address, address, ...]}: the job's name, then its addresses.")
    listed = cluster["worker"]
    if isinstance(listed, str) or not isinstance(listed, (list, tuple)):
        raise Wrong(f"cluster['worker'] is {describe(listed)}; expected the list of every worker's address.",
                    hint="Put the whole list of workers there, in order.")
    listed = list(listed)
    if listed == [workers[index]]:
        raise Wrong("cluster['worker'] lists this worker only.",
                    hint="Every worker gets the same, complete cluster; only 'task' differs between them.")
    if sorted(map(str, listed)) == sorted(workers) and listed != workers:
        raise Wrong("cluster['worker'] has the right addresses in another order.",
                    hint="Keep the given order: task index i means the i-th address, in every worker.")
    if listed != workers:
        raise Wrong(f"cluster['worker'] is {short(listed)}, not the cluster given ({short(workers)}).",
                    hint="Use the workers argument as it is.")
    if not isinstance(task, dict) or set(task) != {"type", "index"}:
        raise Wrong(f"'task' is {short(task)}; expected a dict with the keys 'type' and 'index'.",
                    hint="{'type': 'worker', 'index': index}")
    if task["type"] != "worker":
        raise Wrong(f"task['type'] is {short(task['type'])}; this process is one of the 'worker' job.",
                    hint="The type names the job in 'cluster': 'worker'.")
    got = task["index"]
    if isinstance(got, str):
        raise Wrong(f"task['index'] is the string {got!r}.", hint="The index is a number: index, not str(index).")
    if isinstance(got, bool) or not isinstance(got, (int, np.integer)):
        raise Wrong(f"task['index'] is {describe(got)}; expected a whole number.")
    if int(got) != index:
        raise Wrong(f"{name}: task['index'] is {int(got)}, so this is the TF_CONFIG of worker {int(got)}.",
                    hint="Use the index argument: the position of this worker's address in the list.")
    try:
        json.dumps(result)
    except (TypeError, ValueError):
        raise Wrong(f"{name} cannot be turned into JSON (json.dumps fails), so it cannot go into TF_CONFIG.",
                    hint="Use plain Python values: int(index), a list of str.") from None


_HIDDEN_TF_CONFIG = [
    hidden_case(_tf_config_case, ["127.0.0.1:41011", "127.0.0.1:41012"], 0, "two workers on loopback, index 0"),
    hidden_case(_tf_config_case, ["10.0.0.5:5000", "10.0.0.6:5000", "10.0.0.7:5000", "10.0.0.8:5000"], 3,
                      "four workers, index 3"),
]


@question(
    "13.tf_config",
    title="A function tf_config(workers, index): the TF_CONFIG dict of one worker of a cluster",
    hint="{'cluster': {'worker': workers}, 'task': {'type': 'worker', 'index': index}}",
    hidden=_HIDDEN_TF_CONFIG,
)
def tf_config(answer: Any) -> None:
    for index in (1, 2):
        _tf_config_case(answer, list(GIVEN_WORKERS), index)


# --- exercise 4: the per-replica batch -------------------------------------------------------------------


def _per_replica_case(answer: Any, global_size: int, replicas: int, what: str | None = None) -> None:
    expected = global_size // replicas
    name = what or f"per_replica_batch({global_size}, {replicas})"
    result = call_student(answer, global_size, replicas, name="per_replica_batch")
    if result is None:
        raise Wrong("per_replica_batch(...) returned None.", hint="End the function with return ... .")
    value = expect_number(result, expected, tol=1e12, name=name)
    if value == expected:
        return
    if value == global_size * replicas:
        raise Wrong(f"{name} = {short(value)}: that multiplies, as for the global batch from a per-replica one.",
                    hint="Here the global batch is given and split: divide it by the replicas.")
    if value == global_size:
        raise Wrong(f"{name} = {short(value)}: the global batch was not split.",
                    hint="Each replica gets global_batch / replicas examples.")
    if replicas != 2 and value == global_size // 2:
        raise Wrong(f"{name} = {short(value)}: divided by 2, this notebook's replicas, not by {replicas}.",
                    hint="Use the replicas argument, not strategy.num_replicas_in_sync.")
    if value != int(value):
        raise Wrong(f"{name} = {short(value)} is not a whole number.", hint="Use // for a whole number of examples.")
    raise Wrong(f"{name} = {short(value)}; {global_size} examples over {replicas} replicas is {expected} each.")


_HIDDEN_PER_REPLICA = [
    hidden_case(_per_replica_case, 96, 3, "96 examples over 3 replicas"),
    hidden_case(_per_replica_case, 1024, 8, "1,024 examples over 8 replicas"),
    hidden_case(_per_replica_case, 64, 1, "a single replica"),
]


@question(
    "13.per_replica_batch",
    title="A function per_replica_batch(global_batch, replicas): the examples each replica gets per step",
    hint="The global batch is split evenly over the replicas: global_batch // replicas.",
    hidden=_HIDDEN_PER_REPLICA,
)
def per_replica_batch(answer: Any) -> None:
    for case in [(256, 2), (512, 4)]:
        _per_replica_case(answer, *case)


# --- chapter results -------------------------------------------------------------------------------------


def _losses(values: Any, name: str) -> np.ndarray:
    array = expect_array(values, name=name).astype(np.float64).reshape(-1)
    if array.size == 0:
        raise Wrong(f"{name} is empty: no step was trained.")
    return array


@question(
    "13.custom_loop_matches",
    title="The custom loop (strategy.run + strategy.reduce) gives model.fit's losses, epoch by epoch",
    hint="Divide each replica's summed loss by the GLOBAL batch (tf.nn.compute_average_loss) and reduce with SUM.",
    kind=RESULT,
)
def custom_loop_matches(answer: Any) -> str:
    if not isinstance(answer, dict) or not {"fit", "custom", "replicas"} <= set(answer):
        raise Wrong(f"The answer is {describe(answer)}; expected a dict with 'fit', 'custom' and 'replicas'.")
    fit, custom = _losses(answer["fit"], "model.fit's losses"), _losses(answer["custom"], "the custom loop's losses")
    replicas = int(answer["replicas"])
    if fit.size != custom.size:
        raise Wrong(f"model.fit gave {fit.size} epoch losses and the custom loop {custom.size}.",
                    hint="Compare the same epochs.")
    if np.allclose(custom, fit, atol=LOSS_TOL, rtol=0):
        worst = float(np.max(np.abs(custom - fit)))
        return f"Right: the same losses within {worst:.1e}: model.fit runs this loop for you."
    if replicas > 1 and np.allclose(custom[0], fit[0] * replicas, rtol=0.05):
        raise Wrong(f"The first epoch's loss is about {replicas} times model.fit's.",
                    hint="Each replica divided by its own batch: divide by the global batch instead "
                    "(tf.nn.compute_average_loss(..., global_batch_size=...)).")
    if replicas > 1 and np.allclose(custom[0], fit[0] / replicas, rtol=0.05):
        raise Wrong(f"The first epoch's loss is about 1/{replicas} of model.fit's.",
                    hint="strategy.reduce with MEAN averages losses already divided by the global batch: use SUM.")
    raise Wrong(f"The losses differ by up to {float(np.max(np.abs(custom - fit))):.3g}.",
                hint="Start from the same initial weights, with the same optimizer and the same batches in the same "
                "order.")


@question(
    "13.workers_agree",
    title="Two worker processes (MultiWorkerMirroredStrategy) train like one device, to float rounding",
    hint="Both workers need the same cluster in TF_CONFIG, their own task index, and the same global batch.",
    kind=RESULT,
)
def workers_agree(answer: Any) -> str:
    if not isinstance(answer, dict) or not {"one_device", "workers"} <= set(answer):
        raise Wrong(f"The answer is {describe(answer)}; expected a dict with 'one_device' and 'workers'.")
    single = _losses(answer["one_device"], "the one-device losses")
    workers = answer["workers"]
    if not isinstance(workers, (list, tuple)) or len(workers) < 2:
        raise Wrong(f"'workers' is {describe(workers)}; expected the losses of each worker (at least two).")
    runs = [_losses(losses, f"worker {i}'s losses") for i, losses in enumerate(workers)]
    for i, run in enumerate(runs):
        if run.size != single.size:
            raise Wrong(f"Worker {i} trained {run.size} steps and the one-device run {single.size}.",
                        hint="Give every run the same number of steps.")
    if not all(np.allclose(run, runs[0], atol=LOSS_TOL, rtol=0) for run in runs[1:]):
        raise Wrong("The workers report different losses: they did not train one model together.",
                    hint="Each worker's TF_CONFIG must list the same cluster, with its own task index.")
    first = slice(0, DRIFT_FREE_STEPS)
    if not (np.allclose(runs[0][first], single[first], atol=LOSS_TOL, rtol=0)
            and np.allclose(runs[0], single, atol=DRIFT_TOL, rtol=0)):
        worst = float(np.max(np.abs(runs[0] - single)))
        raise Wrong(f"The workers agree with each other but differ from one device by up to {worst:.3g}.",
                    hint="Use the same global batch (per-worker batch × workers), data and initial weights.")
    worst = max(float(np.max(np.abs(run - single))) for run in runs)
    return f"Right: {len(runs)} processes, one model: every step's loss equals one device's within {worst:.1e}."
