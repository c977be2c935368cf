"""Chapter 13's process plumbing: worker processes of a `MultiWorkerMirroredStrategy` cluster on one machine.

The chapter keeps the ideas (what `TF_CONFIG` is, what each worker runs, what the all-reduce gives); this module
keeps the rest:

- :func:`train`: the chapter's custom training loop (`strategy.run` + `strategy.reduce`) for any strategy. The
  notebook runs it on one device and on its replicas, and every worker process runs it under
  `MultiWorkerMirroredStrategy`: all of them run the same code.
- :class:`WorkerJob`: the worker's side: its arguments, its output lines, a watchdog that ends it when the
  notebook's kernel goes away, and the result it writes for the notebook.
- :func:`run_workers`: the notebook's side: start one process per `TF_CONFIG`, show their lines as they come,
  and stop every one of them at the end, whatever happens.
- :func:`free_ports` and :func:`replica_shares`.

TensorFlow is imported only inside the functions that need it, so ``import course.distributed`` stays fast (a
worker can time its own ``import tensorflow``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

__all__ = ["Trained", "WorkerError", "WorkerJob", "accuracy", "free_ports", "mlp", "private_memory_mb",
           "replica_shares", "run_workers", "stop_when_orphaned", "train"]

HIDDEN = 256
STOPPED_BY_WATCHDOG = 3     # a worker's exit status when its parent went away or its time limit passed
ERROR_LINES = 15            # lines of a failed worker's error output shown in the notebook


# --- the training, the same in the notebook and in every worker ----------------------------------------------


def mlp(hidden: int = HIDDEN, seed: int = 0):
    """The chapter's model: 784 pixels -> `hidden` ReLU units -> 10 logits, the same initial weights for a seed."""
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((784,)), keras.layers.Dense(hidden, activation="relu"),
                             keras.layers.Dense(10)], name="mlp")


class Trained(NamedTuple):
    """What :func:`train` returns."""

    model: Any              # the trained Keras model (this process's copy)
    losses: list[float]     # the global batch's loss at every step
    seconds: float          # steps 2..steps (the first one builds the graph and, between workers, the collectives)
    share: int              # examples of each global batch this process's replicas computed (step 1's)


def train(strategy, x, y, *, global_batch: int, steps: int, learning_rate: float, hidden: int = HIDDEN,
          seed: int = 0, say: Callable[[str], Any] | None = None, every: int | None = None) -> Trained:
    """Train ``mlp(hidden, seed)`` for `steps` SGD steps of `global_batch` examples under `strategy`.

    The batches are `x`, `y` in order (repeated if needed). `x` holds float pixels in [0, 1], or bytes (uint8,
    0-255: a quarter of the memory in every process that holds a copy), divided by 255 batch by batch. Each replica
    divides its summed loss by the global batch (`tf.nn.compute_average_loss`) and the optimizer all-reduces the
    gradients, so any strategy trains the same model as one device does, to float rounding. `say` gets a
    progress line after the first step, every `every` steps (default: every 10, or a fifth of the run when that is
    more) and after the last.
    """
    if every is None and isinstance(steps, (int, np.integer)) and not isinstance(steps, bool):
        every = max(10, int(steps) // 5)
    for name, value in (("global_batch", global_batch), ("steps", steps), ("every", every)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a whole number >= 1; got {value!r}")
    if len(x) != len(y) or len(x) < global_batch:
        raise ValueError(f"x and y must hold the same number of examples, at least one global batch "
                         f"({global_batch}); got {len(x)} and {len(y)}")
    import keras
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(global_batch, drop_remainder=True)
    if np.asarray(x[:1]).dtype == np.uint8:
        dataset = dataset.map(lambda images, labels: (tf.cast(images, tf.float32) / 255.0, labels))
    options = tf.data.Options()
    # Every worker reads the same batches and keeps its own share of each (sharding by data, not by file).
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    batches = iter(strategy.experimental_distribute_dataset(dataset.with_options(options)))
    with strategy.scope():
        model = mlp(hidden, seed)
        optimizer = keras.optimizers.SGD(learning_rate)
        optimizer.build(model.trainable_variables)
    per_example = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")

    def replica_step(x_batch, y_batch):
        with tf.GradientTape() as tape:
            logits = model(x_batch, training=True)
            loss = tf.nn.compute_average_loss(per_example(y_batch, logits), global_batch_size=global_batch)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))  # all-reduced across every replica
        return loss

    @tf.function
    def step(x_batch, y_batch):
        per_replica = strategy.run(replica_step, args=(x_batch, y_batch))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    x_first, y_first = next(batches)
    share = sum(int(part.shape[0]) for part in strategy.experimental_local_results(y_first))
    losses = [float(step(x_first, y_first))]  # builds the graph (and, between workers, the collective ops)
    if say is not None:
        say(f"step    1  loss {losses[0]:.4f}  ({share} of the global batch of {global_batch} computed here)")
    started = time.perf_counter()
    for number in range(2, steps + 1):
        losses.append(step(*next(batches)))
        if say is not None and (number % every == 0 or number == steps):
            say(f"step {number:4d}  loss {float(losses[-1]):.4f}")
    losses = [float(loss) for loss in losses]  # waits for the last step
    return Trained(model, losses, time.perf_counter() - started, share)


def accuracy(model, x, y, batch: int = 2000) -> float:
    """The share of `x` that `model` classifies as `y`, `batch` examples at a time (:func:`course.transfer.accuracy`),
    uint8 pixels divided by 255 batch by batch, as :func:`train` does."""
    from course.transfer import accuracy as batched_accuracy

    def scaled(part, training=False):  # the model as it is called here: without `training` (its default)
        part = np.asarray(part)
        return model(np.divide(part, np.float32(255.0), dtype=np.float32) if part.dtype == np.uint8 else part)

    return batched_accuracy(scaled, x, y, batch_size=batch)


def replica_shares(global_batch: int, replicas: int) -> list[int]:
    """How `tf.distribute` cuts a global batch over `replicas`: as evenly as it goes, the first ones one larger.

    >>> replica_shares(128, 3)
    [43, 43, 42]
    """
    for name, value in (("global_batch", global_batch), ("replicas", replicas)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a whole number >= 1; got {value!r}")
    size, extra = divmod(int(global_batch), int(replicas))
    return [size + 1] * extra + [size] * (int(replicas) - extra)


def private_memory_mb() -> float:
    """This process's own memory in MB (RssAnon: not the library files it maps, which processes share); NaN if
    the system does not say (no /proc)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return float("nan")


# --- the worker's side ---------------------------------------------------------------------------------------


class WorkerJob:
    """One worker process's job, as :func:`run_workers` hands it over (``--data``, ``--settings``, ``--result``).

    Make it first thing in the worker script, with :meth:`from_command_line`: it starts the watchdog (the worker
    exits if the notebook's kernel, its parent, goes away or after ``--time-limit`` seconds) and the clock.
    """

    def __init__(self, index: int, data_path: Path, settings: dict[str, Any], result_path: Path):
        self.index, self.settings = index, settings
        self.data_path, self.result_path = Path(data_path), Path(result_path)
        self.started = time.perf_counter()
        self._data: Any = None

    @classmethod
    def from_command_line(cls, argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None,
                          watch: bool = True) -> WorkerJob:
        parser = argparse.ArgumentParser(description="One worker of a MultiWorkerMirroredStrategy cluster "
                                         "(started by course.distributed.run_workers).")
        parser.add_argument("--data", required=True, help=".npz file: x, y (training), x_test, y_test")
        parser.add_argument("--settings", required=True, help="JSON: global_batch, steps, learning_rate, ...")
        parser.add_argument("--result", required=True, help="where this worker writes its figures (JSON)")
        parser.add_argument("--time-limit", type=float, default=600.0, help="seconds before the watchdog stops it")
        parser.add_argument("--parent", type=int, default=None, help="the process that started it (default: its "
                            "parent now); the worker exits when that one is gone")
        args = parser.parse_args(argv)
        environ = os.environ if environ is None else environ
        try:
            index = int(json.loads(environ["TF_CONFIG"])["task"]["index"])
        except (KeyError, TypeError, ValueError) as exc:
            parser.exit(2, f"worker: TF_CONFIG must be set, with a task index ({type(exc).__name__}: {exc})\n")
        try:
            settings = json.loads(args.settings)
        except ValueError as exc:
            parser.exit(2, f"worker: --settings is not JSON: {exc}\n")
        job = cls(index, Path(args.data), settings, Path(args.result))
        if watch:
            stop_when_orphaned(args.time_limit, parent=args.parent)
        return job

    def say(self, text: str) -> None:
        """One line of output, for the notebook to show (stdout, flushed at once)."""
        print(f"worker {self.index}: {text}", flush=True)

    def elapsed(self) -> float:
        """Seconds since this job started (the worker's first line)."""
        return time.perf_counter() - self.started

    @property
    def data(self):
        if self._data is None:
            with np.load(self.data_path) as archive:
                self._data = {name: archive[name] for name in archive.files}
        return self._data

    def finish(self, trained: Trained, **extra: Any) -> dict[str, Any]:
        """Test the trained model, write this worker's result for the notebook, and say the last line.

        ``elapsed_seconds`` is the time from the job's start to the end of training: its ``seconds`` of training
        steps and, before them, the worker's start (importing TensorFlow, joining the cluster, the first step)."""
        elapsed, data = self.elapsed(), self.data
        correct = accuracy(trained.model, data["x_test"], data["y_test"]) if "x_test" in data else float("nan")
        result = {"index": self.index, "losses": trained.losses, "accuracy": correct, "seconds": trained.seconds,
                  "share": trained.share, "elapsed_seconds": elapsed, "memory_mb": private_memory_mb(),
                  **extra}
        partial = self.result_path.with_name(self.result_path.name + ".partial")
        partial.write_text(json.dumps(result))
        os.replace(partial, self.result_path)
        self.say(f"done: loss {trained.losses[-1]:.4f}, test accuracy {correct:.4f}; steps 2-{len(trained.losses)} "
                 f"took {trained.seconds:.2f} s")
        return result


def stop_when_orphaned(limit_seconds: float, parent: int | None = None, poll: float = 0.5) -> threading.Thread:
    """Exit (status 3) when this process's parent goes away, or after `limit_seconds`: never left behind.

    `parent`: the process id of the parent to watch (default: the parent now). Given, it also covers a parent that
    ended before this process got here (its parent is then already another one).
    """
    parent, deadline = (os.getppid() if parent is None else parent), time.monotonic() + limit_seconds

    def watch():
        while os.getppid() == parent and time.monotonic() < deadline:
            time.sleep(poll)
        why = "the time limit passed" if time.monotonic() >= deadline else "the notebook's kernel is gone"
        print(f"worker: stopping ({why})", file=sys.stderr, flush=True)
        os._exit(STOPPED_BY_WATCHDOG)

    thread = threading.Thread(target=watch, name="course-worker-watchdog", daemon=True)
    thread.start()
    return thread


# --- the notebook's side -------------------------------------------------------------------------------------


class WorkerError(RuntimeError):
    """A worker process failed, or the workers did not finish in time; the message says which and why."""


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` different ports nobody listens on now: bind to port 0 and the system picks one (all at once)."""
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise ValueError(f"count must be a whole number >= 1; got {count!r}")
    sockets = [socket.socket() for _ in range(int(count))]
    try:
        for s in sockets:
            s.bind((host, 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _check_configs(configs: Any) -> list[dict[str, Any]]:
    if not isinstance(configs, (list, tuple)) or not configs:
        raise ValueError(f"configs must be a non-empty list of TF_CONFIG dicts, one per worker; got {configs!r}")
    for number, config in enumerate(configs):
        try:
            index = config["task"]["index"]
            listed = config["cluster"]["worker"]
        except (KeyError, TypeError):
            raise ValueError(f"configs[{number}] is not a TF_CONFIG dict with 'cluster' and 'task': "
                             f"{config!r}") from None
        if index != number or len(listed) != len(configs):
            raise ValueError(f"configs[{number}] must be worker {number} of a cluster of {len(configs)} workers; "
                             f"it is worker {index!r} of {len(listed)}")
    return list(configs)


# TensorFlow's C++ INFO lines ("I0000 00:00:1796684901.459565   22607 grpc_server_lib.cc:467] Started server ..."):
# a worker writes a dozen of them while it joins the cluster. Its warnings and errors (W, E) are kept.
_INFO_LINE = re.compile(r"I\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] ")


def _last_lines(path: Path, count: int = ERROR_LINES) -> str:
    """The last `count` lines of a worker's error output, without TensorFlow's C++ INFO lines."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no error output)"
    lines = [line for line in lines if not _INFO_LINE.match(line)]
    return "\n".join(lines[-count:]) if lines else "(no error output)"


def run_workers(script: str | os.PathLike, configs: Sequence[dict[str, Any]], *, data: Mapping[str, np.ndarray],
                settings: Mapping[str, Any], timeout: float = 300.0, say: Callable[[str], Any] = print,
                environment: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Run `script` once per TF_CONFIG in `configs` and return each worker's result, worker 0 first.

    Every worker gets its own `TF_CONFIG` (the JSON of its config) in its environment, no GPU
    (``CUDA_VISIBLE_DEVICES=""``, so it takes no GPU memory from the class), and the same arguments: the
    arrays of `data` (saved to a scratch folder), `settings` (JSON), a result file and `timeout` as its time
    limit. The script makes a :class:`WorkerJob` from them. Their output lines are passed to `say` as they come,
    with the seconds since the start. One failing worker, or `timeout` seconds passing, raises
    :class:`WorkerError`; in every case every worker is stopped and the scratch folder removed before this
    returns.
    """
    script = Path(script)
    if not script.is_file():
        raise ValueError(f"the worker script {script} does not exist")
    configs = _check_configs(configs)
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
        raise ValueError(f"timeout must be a number of seconds > 0; got {timeout!r}")
    folder = Path(tempfile.mkdtemp(prefix="course-workers-"))
    processes: list[subprocess.Popen] = []
    files = []
    started = time.perf_counter()
    try:
        np.savez(folder / "data.npz", **data)
        arguments = ["--data", str(folder / "data.npz"), "--settings", json.dumps(dict(settings)),
                     "--time-limit", str(timeout), "--parent", str(os.getpid())]
        for index, config in enumerate(configs):
            env = dict(os.environ if environment is None else environment, TF_CONFIG=json.dumps(config),
                       CUDA_VISIBLE_DEVICES="", PYTHONUNBUFFERED="1")
            out, err = open(folder / f"worker{index}.out", "w"), open(folder / f"worker{index}.err", "w")
            files += [out, err]
            command = [sys.executable, str(script), *arguments, "--result", str(folder / f"result{index}.json")]
            processes.append(subprocess.Popen(command, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL))

        shown = [0] * len(processes)

        def show_new_lines():
            for index in range(len(processes)):
                lines = (folder / f"worker{index}.out").read_text(errors="replace").splitlines(keepends=True)
                complete = [line for line in lines if line.endswith("\n")]   # a line still being written waits
                for line in complete[shown[index]:]:
                    say(f"[{time.perf_counter() - started:5.1f} s] {line.rstrip()}")
                shown[index] = len(complete)

        while True:
            show_new_lines()
            for index, process in enumerate(processes):
                if process.poll() not in (None, 0):   # one worker failed: the others would wait for it forever
                    raise WorkerError(f"worker {index} failed (exit status {process.returncode}); the last lines of "
                                      f"its error output:\n{_last_lines(folder / f'worker{index}.err')}")
            if all(process.poll() == 0 for process in processes):
                break
            if time.perf_counter() - started > timeout:
                raise WorkerError(f"the workers did not finish within {timeout:g} s, so they were stopped "
                                  "(a larger timeout, or fewer steps)")
            time.sleep(0.25)
        show_new_lines()   # their last lines
        results = []
        for index in range(len(processes)):
            path = folder / f"result{index}.json"
            if not path.is_file():
                raise WorkerError(f"worker {index} ended without writing its result (its script must end with "
                                  "job.finish(...))")
            results.append(json.loads(path.read_text()))
        return results
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        for f in files:
            f.close()
        if processes:
            say(f"workers still running: {sum(process.poll() is None for process in processes)} of {len(processes)}")
        shutil.rmtree(folder, ignore_errors=True)
