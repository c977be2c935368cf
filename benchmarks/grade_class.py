"""Grading benchmark: one chapter for a whole class, in the real sandbox, on this machine.

Creates N temporary students (system users in a temporary homes folder when run as root, as the hub makes
them; plain folders otherwise), gives each a copy of the chapter: every other one answered (the exercises of
chapter 03 or 00a filled in), the rest opened and edited but unanswered, so every copy really runs. Then grades
them all with `hub.grading` (fast mode unless --full), `--jobs` at once, and prints time per student (p50/p95),
the total wall time, the statuses, failures and the parallelism used. The users and folders it created are
removed at the end (--keep keeps the folder for a look).

    .venv/bin/python benchmarks/grade_class.py --students 30
"""
from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hub.gradebook.store import GRADED, NOT_STARTED  # noqa: E402
from hub.grading import notebooks, runner  # noqa: E402
from hub.settings import load_settings  # noqa: E402
from hub.system_users import ensure_shared_home, ensure_system_user, running_as_root  # noqa: E402

# The exercise cells of chapters 03 and 00a start `<name> = None  # YOUR CODE HERE`; these replace that line.
ANSWERS = {
    "03": {
        "my_cost": "my_cost = 0.525",
        "my_cost_fn": "def my_cost_fn(W, b, x, y):\n    return tf.reduce_mean(tf.square(W * x + b - y)) / 2",
        "my_gradient": ("W, b = tf.Variable(0.0), tf.Variable(0.0)\nwith tf.GradientTape() as tape:\n"
                        "    cost = compute_cost(W, b, x_data, y_data)\nmy_gradient = tape.gradient(cost, [W, b])"),
        "standardize": "def standardize(x):\n    return (x - np.mean(x)) / np.std(x)",
        "my_params": "my_params = gradient_descent(x_new, y_new, grad_tol=GRAD_TOL)[:2]",
    },
    "00a": {
        "last_three_reversed": "last_three_reversed = week[:-4:-1]",
        "broadcast_answer": "broadcast_answer = (4, 5, 3)",
        "per_shop": "per_shop = sales.sum(axis=0)",
        "stats": "def stats(values):\n    return min(values), max(values), sum(values) / len(values)",
        "relu": "def relu(x):\n    return np.maximum(x, 0)",
        "rows": "rows = images.reshape(len(images), -1)",
        "layer_output": "layer_output = X @ W + b",
    },
}
_BLANK = re.compile(r"^(\w+) = None  # YOUR CODE HERE.*$", re.MULTILINE)


def student_copy(course_file: Path, chapter: str, answered: bool) -> bytes:
    """The course's notebook, answered (where this benchmark knows the answers) or only opened and edited."""
    nb = nbformat.read(str(course_file), as_version=4)
    answers = ANSWERS.get(chapter, {}) if answered else {}
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = _BLANK.sub(lambda m: answers.get(m.group(1), m.group(0)), cell.source)
    nb.cells.append(nbformat.v4.new_markdown_cell("My notes: " + ("done" if answered else "to do")))
    return nbformat.writes(nb).encode()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--chapter", default="03")
    parser.add_argument("--jobs", type=int, help="students at once (default: COURSE_GRADE_JOBS)")
    parser.add_argument("--full", action="store_true", help="full mode instead of fast mode")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    chapter = notebooks.chapter_id(args.chapter)
    course_file = notebooks.course_notebook_name(REPO / "notebooks", chapter)
    if course_file is None:
        print(f"no notebook for chapter {chapter} in notebooks/", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="course-grade-bench-"))
    os.chmod(root, 0o755)
    (root / "notebooks").mkdir()
    shutil.copy(REPO / "notebooks" / course_file, root / "notebooks" / course_file)
    data = Path(os.environ.get("COURSE_DATA_DIR") or REPO / "var" / "data")
    env = {"COURSE_HUB_STATE_DIR": str(root / "state"), "COURSE_HUB_NOTEBOOKS_DIR": str(root / "notebooks"),
           "COURSE_DATA_DIR": str(data)}
    env.update({k: v for k, v in os.environ.items() if k.startswith("COURSE_GRADE_")})
    settings = load_settings(env)
    jobs = args.jobs or settings.grade_jobs
    tag = secrets.token_hex(2)
    names = [f"b{tag}s{i:02d}" for i in range(args.students)]
    created: list[str] = []
    as_root = running_as_root()
    try:
        t0 = time.monotonic()
        for i, name in enumerate(names):
            if as_root:
                entry = ensure_system_user(name, settings.homes_dir)
                created.append(entry.pw_name)
                uid, gid = entry.pw_uid, entry.pw_gid
            else:
                ensure_shared_home(name, settings.homes_dir)
                uid, gid = os.getuid(), os.getgid()
            course = settings.homes_dir / name / "course"
            course.mkdir()
            copy = student_copy(root / "notebooks" / course_file, chapter, answered=i % 2 == 0)
            (course / course_file).write_bytes(copy)
            for path in (course, course / course_file):
                os.chown(path, uid, gid)
        print(f"{len(names)} students ready in {time.monotonic() - t0:.1f} s "
              f"({'system users' if as_root else 'folders of this user'}; every other one answered)", flush=True)
        grader = runner.ClassGrader(settings, runner.open_gradebook(settings), full=args.full)
        print(grader.limits_line(), flush=True)
        print(f"grading chapter {chapter} for {len(names)} students, {jobs} at a time, "
              f"{'full' if args.full else 'fast'} mode", flush=True)

        def report(o: runner.Outcome) -> None:
            raised = o.detail.split(";")[0] if "raised" in o.detail else ""
            print(f"  {o.user}: {o.status} ({o.passed}/{o.total}) in {o.seconds:.1f} s"
                  + (f" ({raised})" if raised else ""), flush=True)

        started = time.monotonic()
        outcomes = runner.grade(settings, runner.pairs_for(names, [chapter]), jobs=jobs, grader=grader,
                                on_outcome=report)
        wall = time.monotonic() - started
        ran = [o for o in outcomes if o.status != NOT_STARTED]
        seconds = [o.seconds for o in ran]
        failures = [o for o in outcomes if o.status not in (GRADED, NOT_STARTED)]
        peaks = [float(m.group(1)) * (1024 if m.group(2) == "GiB" else 1) for o in ran
                 if (m := re.search(r"peak memory ([\d.]+) (MiB|GiB)", o.detail))]
        answered = [o.passed for i, o in enumerate(outcomes) if i % 2 == 0]
        unanswered = [o.passed for i, o in enumerate(outcomes) if i % 2 == 1]
        print()
        print(f"students: {len(outcomes)}, parallelism: {jobs} at once on {os.cpu_count()} CPU(s), "
              f"{'full' if args.full else 'fast'} mode, chapter {chapter}")
        if seconds:
            print(f"time per student: p50 {statistics.median(seconds):.1f} s, p95 {percentile(seconds, 0.95):.1f} s, "
                  f"max {max(seconds):.1f} s")
        print(f"total wall time: {wall:.1f} s ({wall / max(1, len(outcomes)):.1f} s per student overall)")
        print("statuses: " + ", ".join(f"{n} {s}" for s, n in Counter(o.status for o in outcomes).most_common()))
        print(f"failures: {len(failures)}" + "".join(f"\n  {o.user}: {o.status}" for o in failures))
        if peaks:
            print(f"peak memory per run: p50 {statistics.median(peaks):.0f} MiB, max {max(peaks):.0f} MiB")
        if answered and unanswered:
            print(f"exercises passed: answered copies {statistics.mean(answered):.1f} / {outcomes[0].total}, "
                  f"unanswered copies {statistics.mean(unanswered):.1f} / {outcomes[0].total}")
        return 1 if failures else 0
    finally:
        if as_root:
            import psutil

            uids = set()
            for user in created:
                try:
                    uids.add(__import__("pwd").getpwnam(user).pw_uid)
                except KeyError:
                    pass
            for proc in psutil.process_iter(["uids"]):
                if proc.info["uids"] and proc.info["uids"].real in uids:
                    try:
                        proc.kill()
                    except psutil.Error:
                        pass
            for user in created:
                subprocess.run(["userdel", user], capture_output=True)
            print(f"removed {len(created)} system users")
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
