"""A class on one device: N students train chapter 06's classic CNN at once, each in a process of its own.

    .venv/bin/python benchmarks/gpu_share.py --students 4 [--steps 20] [--batch 50] [--memory-cap MIB]

Every student is a separate Python process, as a real kernel is, started with the environment the hub gives a
server with a GPU (`hub.gpu_policy.gpu_memory_environment`: TF_FORCE_GPU_ALLOW_GROWTH=true and, with
--memory-cap, COURSE_GPU_MEMORY_LIMIT_MB), and applies it as a kernel does, with `course.gpu.configure_from_env()`
right after importing TensorFlow. The network is read from notebooks/06_cnn.ipynb (full-mode sizes), the data
is the course's MNIST.

One student trains alone first, then N at once. Each process loads, builds, compiles and takes one untimed
step, says it is ready and waits; when all are ready they are started together and each times --steps steps.
Figures: images/s of each student (its own steps over its own time), the total (every image of the class
over the time from the first start to the last end), against the student alone; the peak memory of each process
(on a GPU TensorFlow's peak on GPU:0 from get_memory_info; on the CPU the process's peak resident set, RSS);
failures: a process that ran out of memory (OOM) or exited with any other error.

Ends with one line:
    RESULT gpu_share students=N total_ips=... alone_ips=... per_student_ips=... peak_mib=... failures=...
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

READY, GO, REPORT = "READY", "GO", "REPORT "
OOM_MARKS = ("ResourceExhaustedError", "OOM when allocating", "out of memory", "CUDA_ERROR_OUT_OF_MEMORY")


def _gpu_machine() -> bool:
    """An NVIDIA (or WSL) GPU device exists; the parent never imports TensorFlow, so it holds no GPU memory."""
    return bool(glob.glob("/dev/nvidia[0-9]*") or os.path.exists("/dev/dxg"))


# --- one student (a child process) ------------------------------------------------------------------------


def student(steps: int, batch: int, seed: int) -> int:
    """Train the classic CNN for `steps` steps after the parent says GO; print one REPORT line of JSON."""
    import tensorflow as tf

    from course import gpu

    gpu.configure_from_env()  # what the kernel start-up hook does right after `import tensorflow`
    import keras
    from chapter06 import classic_network, mnist_subset

    x, y, _, _ = mnist_subset(seed=0)
    keras.utils.set_random_seed(seed)
    data = tf.data.Dataset.from_tensor_slices((x, y)).cache().shuffle(len(y), seed=seed).repeat().batch(batch)
    data = data.prefetch(tf.data.AUTOTUNE)
    model = classic_network().compiled()
    model.fit(data, steps_per_epoch=1, epochs=1, verbose=0)  # untimed: tracing and the first step
    print(READY, flush=True)
    if sys.stdin.readline().strip() != GO:
        return 2
    marks: dict[str, float] = {}

    class Clock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            marks["start"] = time.time()

    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0, callbacks=[Clock()])
    marks["end"] = time.time()  # fit returns after the last step's loss is read: the device is done
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        peak, kind = tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20, "GPU"
    else:
        import resource

        peak, kind = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "RSS"  # KiB on Linux
    report = {"start": marks["start"], "end": marks["end"], "images": steps * batch, "peak_mib": round(peak, 1),
              "memory": kind, "device": gpus[0].name if gpus else "CPU"}
    print(REPORT + json.dumps(report), flush=True)
    return 0


# --- the class (the parent) --------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one student process gave."""

    index: int
    report: dict | None
    returncode: int | None
    error: str = ""

    @property
    def ips(self) -> float | None:
        if not self.report:
            return None
        return self.report["images"] / max(self.report["end"] - self.report["start"], 1e-9)


def _environment(memory_cap: int | None) -> dict[str, str]:
    from hub.gpu_policy import gpu_memory_environment

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    env.update(gpu_memory_environment(memory_cap))
    return env


def _last_line(text: str) -> str:
    for mark in OOM_MARKS:
        if mark in text:
            return "OOM: " + next(line.strip() for line in text.splitlines() if mark in line)[:200]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else "no output"


def run_class(students: int, steps: int, batch: int, memory_cap: int | None, timeout: float) -> list[Outcome]:
    """Start `students` processes, wait until all are ready (or gone), start them together, collect reports."""
    env = _environment(memory_cap)
    command = [sys.executable, str(Path(__file__).resolve()), "--student", "--steps", str(steps),
               "--batch", str(batch)]
    procs = [subprocess.Popen(command + ["--seed", str(i)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT) for i in range(students)]
    stderr: list[list[str]] = [[] for _ in procs]
    readers = [threading.Thread(target=lambda p=p, sink=sink: sink.extend(p.stderr), daemon=True)
               for p, sink in zip(procs, stderr)]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + timeout
    ready = []
    for proc in procs:  # a student that dies before it is ready gives EOF instead
        ready.append(_wait_for(proc, lambda line: line == READY, deadline) is not None)
    for proc, ok in zip(procs, ready):
        if ok:
            proc.stdin.write(GO + "\n")
            proc.stdin.flush()
    outcomes = []
    for index, (proc, ok) in enumerate(zip(procs, ready)):
        line = _wait_for(proc, lambda text: text.startswith(REPORT), deadline) if ok else None
        report = json.loads(line[len(REPORT):]) if line else None
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 1))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            outcomes.append(Outcome(index, None, None, f"timed out after {timeout:.0f} s"))
            continue
        readers[index].join(timeout=5)
        error = "" if report and proc.returncode == 0 else _last_line("".join(stderr[index]))
        outcomes.append(Outcome(index, report if proc.returncode == 0 else None, proc.returncode, error))
    return outcomes


def _wait_for(proc: subprocess.Popen, wanted, deadline: float) -> str | None:
    """The first stdout line of `proc` that is `wanted`, or None at EOF or past the deadline."""
    while (line := _readline(proc, deadline)) is not None:
        if wanted(line):
            return line
    return None


def _readline(proc: subprocess.Popen, deadline: float) -> str | None:
    """The next stdout line of `proc` (stripped), or None at EOF or past the deadline (then it is killed)."""
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout=max(deadline - time.monotonic(), 0.1))
    if reader.is_alive():
        proc.kill()
        return None
    return result[0].strip() if result and result[0] else None


def summarise(outcomes: list[Outcome]) -> dict[str, float | int]:
    """Total images/s over the class's time, the mean per student, the largest peak, the failures."""
    done = [o for o in outcomes if o.report]
    if not done:
        return {"total_ips": 0.0, "per_student_ips": 0.0, "peak_mib": 0.0, "failures": len(outcomes)}
    span = max(o.report["end"] for o in done) - min(o.report["start"] for o in done)
    return {"total_ips": sum(o.report["images"] for o in done) / max(span, 1e-9),
            "per_student_ips": statistics.mean(o.ips for o in done),
            "peak_mib": max(o.report["peak_mib"] for o in done),
            "failures": len(outcomes) - len(done)}


def _print_table(title: str, outcomes: list[Outcome]) -> None:
    print(title)
    print(f"  {'student':>7} {'images/s':>9} {'peak MiB':>9} {'memory':>6}  device / failure")
    for o in outcomes:
        if o.report:
            print(f"  {o.index + 1:>7} {o.ips:>9,.0f} {o.report['peak_mib']:>9,.0f} {o.report['memory']:>6}  "
                  f"{o.report['device']}")
        else:
            print(f"  {o.index + 1:>7} {'-':>9} {'-':>9} {'':>6}  FAILED (exit {o.returncode}): {o.error}")


def main(argv: list[str] | None = None) -> int:
    gpu = _gpu_machine()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=32 if gpu else 2,
                        help="students training at once (default: 32 on a GPU machine, 2 on the CPU)")
    parser.add_argument("--steps", type=int, default=300 if gpu else 20,
                        help="timed training steps per student (default: 300 on a GPU machine, 20 on the CPU)")
    parser.add_argument("--batch", type=int, default=50, help="batch size (the chapter's: 50)")
    parser.add_argument("--memory-cap", type=int, default=None, metavar="MIB",
                        help="per-student GPU memory cap (COURSE_GPU_MEMORY_LIMIT_MB; no effect on the CPU)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds a run of the class may take")
    parser.add_argument("--student", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.student:
        return student(args.steps, args.batch, args.seed)
    if args.students < 1 or args.steps < 1 or args.batch < 1 or (args.memory_cap is not None and args.memory_cap < 1):
        parser.error("--students, --steps, --batch and --memory-cap must be whole numbers of at least 1")

    cap = f"{args.memory_cap} MiB" if args.memory_cap else "none"
    print(f"{'GPU machine' if gpu else 'CPU only (no GPU device)'}: memory growth on, per-student cap {cap}"
          f"{'' if gpu or not args.memory_cap else ' (a GPU cap: no effect here)'}; {args.steps} steps of "
          f"{args.batch} per student", flush=True)
    alone = run_class(1, args.steps, args.batch, args.memory_cap, args.timeout)
    _print_table("one student alone:", alone)
    if not alone[0].report:
        print(f"gpu_share: one student alone failed ({alone[0].error}); fix that first.")
        return 1
    together = run_class(args.students, args.steps, args.batch, args.memory_cap, args.timeout)
    _print_table(f"{args.students} students at once:", together)
    solo, class_ = summarise(alone), summarise(together)
    print(f"total {class_['total_ips']:,.0f} images/s for {args.students} students "
          f"({class_['total_ips'] / max(solo['total_ips'], 1e-9):.2f}x one alone, {solo['total_ips']:,.0f}); "
          f"each {class_['per_student_ips']:,.0f} images/s on average")
    print(f"RESULT gpu_share students={args.students} total_ips={class_['total_ips']:.1f} "
          f"alone_ips={solo['total_ips']:.1f} per_student_ips={class_['per_student_ips']:.1f} "
          f"peak_mib={class_['peak_mib']:.1f} failures={class_['failures']}")
    return 0 if class_["failures"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
