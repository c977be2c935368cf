"""Staged Keras Applications weights: fetched over a real loopback HTTP server (only the network is stood in
for: the files are ones the test makes), checked against a checksum, found in the data folders, and loaded by
Keras itself."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import subprocess
import sys
import threading

import pytest

from course.datasets import ChecksumError, locations
from course.datasets.specs import MOBILENET_V2_035_96, MOBILENET_V3_SMALL, WEIGHTS_FOLDER
from course.datasets.weights import fetch_weights, find_weights, import_weights

COURSE = [sys.executable, "-m", "course.cli"]


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A loopback HTTP server for ``tmp_path/served``; yields (folder, base URL)."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    monkeypatch.setattr(locations, "SYSTEM_DATA_DIRS", ())
    yield root, f"http://127.0.0.1:{httpd.server_port}/"
    httpd.shutdown()


def _fake(folder, spec, content=b"not really weights, but bytes to check") -> tuple[bytes, str]:
    (folder / spec.filename).write_bytes(content)
    return content, hashlib.sha256(content).hexdigest()


def test_fetch_with_a_given_sha256_stages_the_file_where_the_chapter_finds_it(server, tmp_path, monkeypatch):
    root, url = server
    content, sha = _fake(root, MOBILENET_V2_035_96)
    shared = tmp_path / "shared"
    result = fetch_weights("mobilenet_v2_0.35_96", shared, url=url + MOBILENET_V2_035_96.filename, sha256=sha,
                           progress=False)
    target = shared / WEIGHTS_FOLDER / MOBILENET_V2_035_96.filename
    assert result.path == target and target.read_bytes() == content and result.action == "downloaded"
    manifest = json.loads((target.parent / "MANIFEST.json").read_text())
    assert manifest["files"][target.name]["sha256"] == sha
    assert find_weights("mobilenet_v2_0.35_96").path is None  # not in the searched places yet
    monkeypatch.setenv("COURSE_DATA_DIR", str(shared))
    staged = find_weights("mobilenet_v2_0.35_96")
    assert staged.path == target and "SHA-256" in staged.checked


def test_no_published_checksum_is_recorded_at_first_fetch_then_enforced(server, tmp_path, monkeypatch):
    assert MOBILENET_V2_035_96.published is None  # Keras' mobilenet_v2.py passes no file_hash
    root, url = server
    _, sha = _fake(root, MOBILENET_V2_035_96)
    source = url + MOBILENET_V2_035_96.filename
    first = fetch_weights("mobilenet_v2_0.35_96", tmp_path / "d", url=source, progress=False)
    assert first.sha256 == sha and "no checksum is published" in str(first) and "first fetch" in str(first)
    assert fetch_weights("mobilenet_v2_0.35_96", tmp_path / "d", url=source, progress=False).action == "already there"
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "d"))
    first.path.write_bytes(b"tampered")
    staged = find_weights("mobilenet_v2_0.35_96")
    assert staged.path is None and "does not match the SHA-256 recorded" in staged.reason
    assert "course data fetch mobilenet_v2_0.35_96" in str(staged)
    again = fetch_weights("mobilenet_v2_0.35_96", tmp_path / "d", url=source, progress=False)  # repaired
    assert again.action == "downloaded" and find_weights("mobilenet_v2_0.35_96").path == first.path
    (root / MOBILENET_V2_035_96.filename).write_bytes(b"the publisher's file changed")
    first.path.write_bytes(b"tampered")
    with pytest.raises(ChecksumError, match="does not match the SHA-256 recorded"):
        fetch_weights("mobilenet_v2_0.35_96", tmp_path / "d", url=source, progress=False)


def test_a_download_that_misses_keras_published_md5_is_refused_and_leaves_nothing(server, tmp_path):
    root, url = server
    _fake(root, MOBILENET_V3_SMALL)  # Keras publishes an MD5 for this file; ours cannot match it
    with pytest.raises(ChecksumError, match="does not match the MD5 Keras publishes"):
        fetch_weights("mobilenet_v3_small_1.0_224", tmp_path / "d", url=url + MOBILENET_V3_SMALL.filename,
                      progress=False)
    assert not (tmp_path / "d" / WEIGHTS_FOLDER).exists() or not any((tmp_path / "d" / WEIGHTS_FOLDER).iterdir())


def test_the_course_command_refuses_a_wrong_checksum_in_one_line(server, tmp_path):
    root, url = server
    _fake(root, MOBILENET_V2_035_96)
    wrong = "0" * 64
    result = subprocess.run(
        [*COURSE, "data", "fetch", "mobilenet_v2_0.35_96", "--to", str(tmp_path / "d"), "--quiet",
         "--url", url + MOBILENET_V2_035_96.filename, "--sha256", wrong],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("course: error:") and "does not match the SHA-256 given" in result.stderr
    assert not (tmp_path / "d" / WEIGHTS_FOLDER / MOBILENET_V2_035_96.filename).exists()


def test_a_staged_mobilenet_v2_file_is_found_and_loaded_by_keras(tmp_path, monkeypatch):
    """The chapter's staged branch: a MobileNetV2 file (random weights, saved in the Keras HDF5 layout the
    published file has, under its name) imported into a shared folder, found, and loaded into the model."""
    import h5py
    import keras
    import numpy as np
    from keras.src.legacy.saving import legacy_h5_format

    monkeypatch.setattr(locations, "SYSTEM_DATA_DIRS", ())
    keras.utils.set_random_seed(1)
    made = keras.applications.MobileNetV2(alpha=0.35, input_shape=(96, 96, 3), include_top=False, weights=None)
    source = tmp_path / "download" / MOBILENET_V2_035_96.filename
    source.parent.mkdir()
    with h5py.File(source, "w") as handle:
        legacy_h5_format.save_weights_to_hdf5_group(handle, made)
    result = import_weights(source, tmp_path / "shared")
    assert result.action == "imported" and result.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "shared"))
    staged = find_weights("mobilenet_v2_0.35_96")
    assert staged.path == tmp_path / "shared" / WEIGHTS_FOLDER / source.name
    keras.utils.set_random_seed(2)
    loaded = keras.applications.MobileNetV2(alpha=0.35, input_shape=(96, 96, 3), include_top=False,
                                            weights=str(staged.path))
    assert all(np.array_equal(a, b) for a, b in zip(made.get_weights(), loaded.get_weights()))
