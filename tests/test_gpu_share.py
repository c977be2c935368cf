"""benchmarks/gpu_share.py runs a small class on this machine's CPU and prints its figures and RESULT line."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_two_students_train_at_once_and_none_fails():
    command = [sys.executable, str(REPO / "benchmarks" / "gpu_share.py"), "--students", "2", "--steps", "3"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = re.search(r"^RESULT gpu_share students=2 total_ips=(\S+) alone_ips=(\S+) per_student_ips=(\S+) "
                       r"peak_mib=(\S+) failures=(\d+)$", done.stdout, re.M)
    assert result, done.stdout[-2000:]
    total, alone, per_student, peak, failures = result.groups()
    assert int(failures) == 0 and float(total) > 0 and float(alone) > 0 and float(per_student) > 0
    assert float(peak) > 100  # a TensorFlow process training a CNN holds well over 100 MiB
