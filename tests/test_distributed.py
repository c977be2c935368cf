"""course.distributed, chapter 13's process plumbing: ports, shares, the worker's job, starting and stopping workers,
and the training loop the notebook and the workers share.

Most worker tests run small Python scripts without TensorFlow (fast); one starts two real TensorFlow workers.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from course import distributed
from course.distributed import WorkerError, WorkerJob


def configs(count: int) -> list[dict]:
    cluster = {"worker": [f"127.0.0.1:{port}" for port in distributed.free_ports(count)]}
    return [{"cluster": cluster, "task": {"type": "worker", "index": i}} for i in range(count)]


@pytest.fixture
def scratch(tmp_path, monkeypatch) -> Path:
    """run_workers' scratch folders go under the test's own folder, so the test can see they are removed."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "worker.py"
    path.write_text(textwrap.dedent(body))
    return path


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped) is not running
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


# --- small helpers ---------------------------------------------------------------------------------------------


def test_free_ports_are_different_and_free():
    ports = distributed.free_ports(3)
    assert len(set(ports)) == 3
    for port in ports:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


@pytest.mark.parametrize("count", [0, -1, 2.0, True, "2"])
def test_free_ports_refuses_a_count_that_is_not_a_whole_number(count):
    with pytest.raises(ValueError, match="count must be a whole number"):
        distributed.free_ports(count)


@pytest.mark.parametrize(("global_batch", "replicas", "shares"), [
    (128, 2, [64, 64]), (128, 3, [43, 43, 42]), (10, 4, [3, 3, 2, 2]), (3, 5, [1, 1, 1, 0, 0]), (64, 1, [64])])
def test_replica_shares(global_batch, replicas, shares):
    assert distributed.replica_shares(global_batch, replicas) == shares
    assert sum(shares) == global_batch


def test_replica_shares_refuses_bad_numbers():
    with pytest.raises(ValueError, match="replicas must be a whole number >= 1; got 0"):
        distributed.replica_shares(128, 0)


def test_private_memory_is_a_positive_number_of_megabytes():
    assert distributed.private_memory_mb() > 1


def test_last_lines_drop_tensorflow_info_lines_but_keep_warnings_and_errors(tmp_path):
    log = tmp_path / "worker0.err"
    log.write_text("I0000 00:00:1796684901.459565   22607 grpc_server_lib.cc:467] Started server with target\n"
                   "W0000 00:00:1796684901.707763   22607 dataset.cc:997] Input will not be optimized\n"
                   "Traceback (most recent call last):\n"
                   "I0000 00:00:1796684901.494858   22607 coordination_service_agent.cc:245] Coordination agent\n"
                   "ValueError: something real\n")
    text = distributed._last_lines(log)
    assert "Started server" not in text and "Coordination agent" not in text
    assert text.splitlines() == ["W0000 00:00:1796684901.707763   22607 dataset.cc:997] Input will not be optimized",
                                 "Traceback (most recent call last):", "ValueError: something real"]
    assert distributed._last_lines(tmp_path / "missing.err") == "(no error output)"


# --- the worker's side -------------------------------------------------------------------------------------------


def test_worker_job_from_the_command_line(tmp_path):
    config = {"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}
    job = WorkerJob.from_command_line(
        ["--data", str(tmp_path / "d.npz"), "--settings", '{"steps": 3}', "--result", str(tmp_path / "r.json")],
        environ={"TF_CONFIG": json.dumps(config)}, watch=False)
    assert (job.index, job.settings, job.result_path) == (1, {"steps": 3}, tmp_path / "r.json")
    assert job.data_path == tmp_path / "d.npz"
    assert 0 <= job.elapsed() < 5


def test_worker_job_without_tf_config_or_with_bad_settings_exits_with_one_line(tmp_path, capsys):
    arguments = ["--data", "d.npz", "--settings", "{}", "--result", "r.json"]
    with pytest.raises(SystemExit) as stopped:
        WorkerJob.from_command_line(arguments, environ={}, watch=False)
    assert stopped.value.code == 2 and "TF_CONFIG must be set" in capsys.readouterr().err
    config = json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 0}})
    with pytest.raises(SystemExit) as stopped:
        WorkerJob.from_command_line(arguments[:3] + ["{not json", *arguments[4:]], environ={"TF_CONFIG": config},
                                    watch=False)
    assert stopped.value.code == 2 and "--settings is not JSON" in capsys.readouterr().err


def test_the_watchdog_ends_a_worker_after_its_time_limit():
    code = ("from course.distributed import stop_when_orphaned; stop_when_orphaned(0.3, poll=0.05); "
            "import time; time.sleep(30)")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
    assert done.returncode == distributed.STOPPED_BY_WATCHDOG and time.monotonic() - started < 15
    assert "the time limit passed" in done.stderr


def test_the_watchdog_ends_a_worker_whose_parent_is_gone():
    child = ("from course.distributed import stop_when_orphaned; stop_when_orphaned(60, parent={}, poll=0.05); "
             "import time; time.sleep(30)")
    parent = ("import os, subprocess, sys; "
              f"p = subprocess.Popen([sys.executable, '-c', {child!r}.format(os.getpid())], "
              "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
              "print(p.pid, flush=True)")  # the parent exits at once, leaving its child behind
    done = subprocess.run([sys.executable, "-c", parent], capture_output=True, text=True, timeout=20)
    pid = int(done.stdout.split()[0])
    deadline = time.monotonic() + 15
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid)


# --- the notebook's side: run_workers with scripts that do not need TensorFlow -------------------------------

FAKE_WORKER = """
    import json, os
    import numpy as np
    from course import distributed

    job = distributed.WorkerJob.from_command_line()
    job.say("started")
    data, settings = job.data, job.settings

    class Model:  # predicts class 1 for everything
        def __call__(self, x):
            return np.tile([0.0, 1.0], (len(x), 1))

    losses = [float(job.index), float(data["x"].sum())]
    trained = distributed.Trained(Model(), losses, 0.5, len(data["x"]) // 2)
    job.finish(trained, tf_config=json.loads(os.environ["TF_CONFIG"]), cuda=os.environ.get("CUDA_VISIBLE_DEVICES"),
               settings=settings)
"""


def test_run_workers_starts_one_process_per_config_and_returns_their_results(tmp_path, scratch):
    lines = []
    x = np.arange(8, dtype=np.uint8).reshape(4, 2)
    chosen = configs(2)
    results = distributed.run_workers(
        script(tmp_path, FAKE_WORKER), chosen, timeout=60, say=lines.append,
        data={"x": x, "y": np.zeros(4), "x_test": x[:3], "y_test": np.array([1, 1, 0])},
        settings={"global_batch": 4, "steps": 2})
    assert [r["index"] for r in results] == [0, 1]
    for index, result in enumerate(results):
        assert result["tf_config"] == chosen[index] and result["cuda"] == ""
        assert result["settings"] == {"global_batch": 4, "steps": 2}
        assert result["losses"] == [index, 28.0] and result["share"] == 2
        assert result["accuracy"] == pytest.approx(2 / 3) and result["memory_mb"] > 0
    shown = [line.split("] ", 1)[1] for line in lines[:-1]]
    assert sorted(shown) == ["worker 0: done: loss 28.0000, test accuracy 0.6667; steps 2-2 took 0.50 s",
                             "worker 0: started",
                             "worker 1: done: loss 28.0000, test accuracy 0.6667; steps 2-2 took 0.50 s",
                             "worker 1: started"]
    assert all(line.startswith("[") and " s] worker " in line for line in lines[:-1])
    assert lines[-1] == "workers still running: 0 of 2"
    assert list(scratch.iterdir()) == []  # the scratch folder (data, logs, results) is gone


def test_a_failing_worker_stops_the_others_and_says_why(tmp_path, scratch):
    body = """
        import os, sys, time
        from course import distributed

        job = distributed.WorkerJob.from_command_line()
        open(os.environ["PID_FOLDER"] + f"/{job.index}", "w").write(str(os.getpid()))
        if job.index == 1:
            print("I0000 00:00:1796684901.459565   22607 grpc_server_lib.cc:467] Started server", file=sys.stderr)
            time.sleep(0.5)
            raise ValueError("worker 1 cannot go on")
        time.sleep(60)
    """
    pids = tmp_path / "pids"
    pids.mkdir()
    lines = []
    started = time.monotonic()
    with pytest.raises(WorkerError) as failed:
        distributed.run_workers(script(tmp_path, body), configs(2), data={"x": np.zeros(2)}, settings={},
                                timeout=60, say=lines.append, environment={**os.environ, "PID_FOLDER": str(pids)})
    message = str(failed.value)
    assert message.startswith("worker 1 failed (exit status 1)")
    assert "ValueError: worker 1 cannot go on" in message and "Started server" not in message
    assert time.monotonic() - started < 30
    assert not alive(int((pids / "0").read_text()))   # the other worker was stopped
    assert lines[-1] == "workers still running: 0 of 2"
    assert list(scratch.iterdir()) == []


def test_workers_past_the_timeout_are_stopped(tmp_path, scratch):
    body = """
        import time
        from course import distributed

        job = distributed.WorkerJob.from_command_line()
        job.say("waiting for ever")
        time.sleep(60)
    """
    lines = []
    with pytest.raises(WorkerError, match="did not finish within 3 s, so they were stopped"):
        distributed.run_workers(script(tmp_path, body), configs(2), data={"x": np.zeros(2)}, settings={},
                                timeout=3, say=lines.append)
    assert sum("waiting for ever" in line for line in lines) == 2
    assert lines[-1] == "workers still running: 0 of 2"


def test_a_worker_that_ends_without_its_result_is_an_error(tmp_path, scratch):
    body = """
        from course import distributed

        distributed.WorkerJob.from_command_line()
    """
    with pytest.raises(WorkerError, match="worker 0 ended without writing its result"):
        distributed.run_workers(script(tmp_path, body), configs(1), data={"x": np.zeros(2)}, settings={},
                                timeout=30, say=lambda line: None)


def test_run_workers_refuses_bad_arguments_in_one_line(tmp_path):
    worker = script(tmp_path, FAKE_WORKER)
    with pytest.raises(ValueError, match="the worker script .* does not exist"):
        distributed.run_workers(tmp_path / "missing.py", configs(1), data={}, settings={})
    with pytest.raises(ValueError, match="configs must be a non-empty list"):
        distributed.run_workers(worker, [], data={}, settings={})
    with pytest.raises(ValueError, match=r"configs\[0\] is not a TF_CONFIG dict"):
        distributed.run_workers(worker, [{"cluster": {"worker": ["a:1"]}}], data={}, settings={})
    swapped = list(reversed(configs(2)))
    with pytest.raises(ValueError, match=r"configs\[0\] must be worker 0 of a cluster of 2 workers; it is worker 1"):
        distributed.run_workers(worker, swapped, data={}, settings={})
    with pytest.raises(ValueError, match="timeout must be a number of seconds > 0"):
        distributed.run_workers(worker, configs(1), data={}, settings={}, timeout=0)


# --- the training, with TensorFlow ---------------------------------------------------------------------------


def pixels(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (count, 784), dtype=np.uint8), rng.integers(0, 10, count)


def test_train_on_one_device_bytes_and_floats_give_the_same_losses():
    import tensorflow as tf

    x, y = pixels(96)
    one = tf.distribute.OneDeviceStrategy("/cpu:0")
    lines = []
    as_bytes = distributed.train(one, x, y, global_batch=32, steps=5, learning_rate=0.1, hidden=16, say=lines.append,
                                 every=2)
    as_floats = distributed.train(one, np.divide(x, np.float32(255), dtype=np.float32), y, global_batch=32, steps=5,
                                  learning_rate=0.1, hidden=16)
    assert len(as_bytes.losses) == 5 and as_bytes.share == 32 and as_bytes.seconds > 0
    assert as_bytes.losses == as_floats.losses   # bytes divided by 255 batch by batch: the same numbers
    assert as_bytes.losses[-1] < as_bytes.losses[0]
    assert [line.split()[1] for line in lines] == ["1", "2", "4", "5"]
    assert "32 of the global batch of 32 computed here" in lines[0]
    assert distributed.accuracy(as_bytes.model, x, y) == distributed.accuracy(
        as_floats.model, np.divide(x, np.float32(255), dtype=np.float32), y)


def test_train_refuses_bad_sizes():
    x, y = pixels(16)
    with pytest.raises(ValueError, match="global_batch must be a whole number >= 1; got 0"):
        distributed.train(None, x, y, global_batch=0, steps=1, learning_rate=0.1)
    with pytest.raises(ValueError, match=r"at least one global batch \(32\); got 16 and 16"):
        distributed.train(None, x, y, global_batch=32, steps=1, learning_rate=0.1)


REAL_WORKER = """
    from course import distributed

    job = distributed.WorkerJob.from_command_line()
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    job.say(f"{strategy.num_replicas_in_sync} replicas in sync")
    job.finish(distributed.train(strategy, job.data["x"], job.data["y"], say=job.say, **job.settings))
"""


def test_two_real_workers_train_like_one_device(tmp_path, scratch):
    """The chapter's section 5 in small: two MultiWorkerMirroredStrategy processes, an uneven global batch."""
    import tensorflow as tf

    x, y = pixels(3 * 33)
    settings = {"global_batch": 33, "steps": 3, "learning_rate": 0.1, "hidden": 8}
    lines = []
    results = distributed.run_workers(script(tmp_path, REAL_WORKER), configs(2), timeout=240, say=lines.append,
                                      data={"x": x, "y": y, "x_test": x[:20], "y_test": y[:20]}, settings=settings)
    one = distributed.train(tf.distribute.OneDeviceStrategy("/cpu:0"), x, y, **settings)
    assert [r["share"] for r in results] == distributed.replica_shares(33, 2) == [17, 16]
    for result in results:
        assert np.allclose(result["losses"], one.losses, atol=1e-5, rtol=0)
    assert results[0]["accuracy"] == results[1]["accuracy"]
    assert any("worker 1: 2 replicas in sync" in line for line in lines)
