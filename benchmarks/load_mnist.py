"""Cold and warm load times of the course loaders against Keras' own loaders, on the same files.

    .venv/bin/python benchmarks/load_mnist.py [--repeats 3]

Cold: the first call in a fresh process (reading, decompressing and verifying the files). Warm: a later call in
the same process. Keras' `mnist.load_data` only accepts the official `mnist.npz` (it checks its SHA-256), so on a
machine without it the Keras comparison runs on Fashion-MNIST, which Keras reads from the same IDX files.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, os, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
which, arg = sys.argv[1], sys.argv[2]
if which.startswith("keras"):
    import keras
    loader = {"keras-mnist": lambda: keras.datasets.mnist.load_data(path=arg),
              "keras-fashion": keras.datasets.fashion_mnist.load_data}[which]
else:
    import course.datasets as d
    loader = {"course-mnist": lambda: d.load_mnist(arg, download=False),
              "course-fashion": lambda: d.load_fashion_mnist(arg, download=False)}[which]
times = []
for _ in range(3):
    start = time.perf_counter(); loader(); times.append(time.perf_counter() - start)
print(json.dumps({"cold": times[0], "warm": min(times[1:])}))
"""


def measure(which: str, arg: str, repeats: int, env: dict) -> tuple[float, float]:
    colds, warms = [], []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", CHILD, which, arg], capture_output=True, text=True,
                             env=env, check=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        colds.append(result["cold"])
        warms.append(result["warm"])
    return statistics.median(colds), statistics.median(warms)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per loader (median reported)")
    args = parser.parse_args()

    from course.datasets.locations import locate
    from course.datasets.specs import FASHION_MNIST, MNIST

    env = {**os.environ, "COURSE_OFFLINE": "1"}
    rows = []
    mnist = locate(MNIST)
    if mnist is None:
        print("No MNIST found: run `course data import` or `course data fetch` first.")
    else:
        home = str(mnist.folder.parent)
        times = measure("course-mnist", home, args.repeats, env)
        rows.append(("course load_mnist", f"{mnist.layout} in {mnist.folder}", *times))
        if mnist.layout == "npz":
            rows.append(("keras mnist.load_data", "same mnist.npz",
                         *measure("keras-mnist", str(mnist.files["npz"]), args.repeats, env)))
        else:
            print(f"(Keras' mnist.load_data needs the official mnist.npz; this machine has {mnist.layout}: "
                  "comparing on Fashion-MNIST instead)")
    fashion = locate(FASHION_MNIST)
    if fashion is not None and fashion.layout == "idx":
        with tempfile.TemporaryDirectory() as keras_home:
            target = Path(keras_home) / "datasets" / "fashion-mnist"
            target.mkdir(parents=True)
            for path in fashion.files.values():
                (target / path.name).symlink_to(path.resolve())
            rows.append(("course load_fashion_mnist", f"IDX in {fashion.folder}",
                         *measure("course-fashion", str(fashion.folder.parent), args.repeats, env)))
            rows.append(("keras fashion_mnist.load_data", "same IDX files",
                         *measure("keras-fashion", "", args.repeats, {**env, "KERAS_HOME": keras_home})))
    print(f"\n{'loader':<32} {'cold (s)':>9} {'warm (s)':>9}  data")
    for name, data, cold, warm in rows:
        print(f"{name:<32} {cold:9.3f} {warm:9.3f}  {data}")
    print(f"\nmedian of {args.repeats} fresh processes; warm = best later call in the same process")
    return 0


if __name__ == "__main__":
    sys.exit(main())
