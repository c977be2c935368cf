"""Downloads against a real HTTP server on loopback that serves Debian's Fashion-MNIST files."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading

import pytest

from course.datasets import ChecksumError, CourseDataError, fetch, load_fashion_mnist, locations


@pytest.fixture
def mirror(tmp_path, debian_fashion_dir, monkeypatch):
    """A loopback HTTP mirror of the dataset files; yields its folder (tests may damage files in it)."""
    root = tmp_path / "mirror"
    shutil.copytree(debian_fashion_dir, root)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("COURSE_DATA_URL", f"http://127.0.0.1:{server.server_port}/")
    monkeypatch.delenv("COURSE_OFFLINE")
    monkeypatch.setattr(locations, "SYSTEM_DATA_DIRS", ())
    yield root
    server.shutdown()


def test_fetch_downloads_verifies_and_is_then_found(mirror, tmp_path, capsys):
    result = fetch("fashion-mnist", tmp_path / "shared")
    assert result.full and result.counts == (60000, 10000)
    assert sorted(p.name for p in (tmp_path / "shared" / "fashion-mnist").glob("*.gz")) == sorted(
        p.name for p in mirror.glob("*.gz"))
    assert "100%" in capsys.readouterr().err  # the progress bar reached the end
    assert load_fashion_mnist(tmp_path / "shared").verified


def test_load_downloads_into_the_cache_only_when_missing(mirror, tmp_path, monkeypatch):
    ds = load_fashion_mnist()
    assert "cache" in str(ds.source) and ds.verified
    shutil.rmtree(mirror)  # the mirror is gone: the second load must not need it
    assert load_fashion_mnist().test.num_examples == 10000


def test_fetch_keeps_good_files_and_replaces_a_damaged_one(mirror, tmp_path):
    folder = tmp_path / "shared" / "fashion-mnist"
    fetch("fashion-mnist", folder.parent, progress=False)
    damaged = folder / "t10k-labels-idx1-ubyte.gz"
    damaged.write_bytes(damaged.read_bytes()[:-200])
    kept = {p.name: p.stat().st_mtime_ns for p in folder.iterdir() if p != damaged}
    (mirror / "train-images-idx3-ubyte.gz").unlink()  # a good file already there is not downloaded again
    assert fetch("fashion-mnist", folder.parent, progress=False).full
    assert damaged.read_bytes() == (mirror / damaged.name).read_bytes()
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir() if p != damaged} == kept


def test_corrupt_download_leaves_no_file_behind(mirror, tmp_path):
    bad = mirror / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[:-200])
    with pytest.raises(ChecksumError, match="downloaded t10k-labels-idx1-ubyte.gz does not match its published"):
        fetch("fashion-mnist", tmp_path / "shared", progress=False)
    folder = tmp_path / "shared" / "fashion-mnist"
    assert not (folder / "t10k-labels-idx1-ubyte.gz").exists()
    assert not list(folder.glob("*.part"))


def test_unreachable_mirror_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(locations, "SYSTEM_DATA_DIRS", ())
    monkeypatch.delenv("COURSE_OFFLINE")
    monkeypatch.setenv("COURSE_DATA_URL", "http://127.0.0.1:9/")  # the discard port: nothing listens
    with pytest.raises(CourseDataError, match="download failed.*course data fetch"):
        load_fashion_mnist(tmp_path / "home")
    assert not list((tmp_path / "home").rglob("*.part"))
