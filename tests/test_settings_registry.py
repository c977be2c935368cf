"""The one registry of settings (course.settings): complete, documented, and the only place names are spelled."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from course import config, settings
from course.settings import READERS, REGISTRY, SettingError

REPO = Path(__file__).resolve().parents[1]
CODE = [p for folder in ("course", "hub", "singleuser") for p in sorted((REPO / folder).rglob("*.py"))]


def test_every_setting_has_a_one_line_doc_known_readers_and_a_default_that_parses():
    for name, setting in REGISTRY.items():
        assert setting.doc and "\n" not in setting.doc, name
        assert setting.readers and set(setting.readers) <= set(READERS), name
        setting.read({})  # the default itself is allowed
    assert len(REGISTRY) == len({s.name for s in REGISTRY.values()})


def test_no_module_spells_a_registered_name_itself():
    """Modules use `settings.X.name`; a variable's name as a string literal lives only in the registry."""
    offenders = []
    for path in CODE:
        if path == REPO / "course" / "settings.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in REGISTRY:
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno} {node.value}")
    assert not offenders, "use the registry's names: " + ", ".join(offenders)


def test_the_docker_files_use_registered_names_only():
    text = "\n".join((REPO / "docker" / name).read_text()
                     for name in ("docker-compose.yml", "singleuser.Dockerfile", "hub.Dockerfile"))
    used = set(re.findall(r"\b(COURSE_[A-Z_]*[A-Z])\b", text))
    assert used and used <= set(REGISTRY), f"not registered: {sorted(used - set(REGISTRY))}"


@pytest.mark.parametrize("text, value", [("1", True), ("Yes", True), ("on", True), ("false", False), ("0", False),
                                         ("", False)])
def test_one_flag_parser(text, value):
    assert settings.FAST.read({"COURSE_FAST": text}) is value


@pytest.mark.parametrize("text, size", [("4G", 4 * 1024 ** 3), ("512M", 512 * 1024 ** 2), ("2048MB", 2048 * 1024 ** 2),
                                        ("1.5g", int(1.5 * 1024 ** 3)), ("", None)])
def test_one_memory_parser(text, size):
    assert settings.MEM_LIMIT.read({"COURSE_MEM_LIMIT": text}) == size


def test_a_bad_value_is_one_line_naming_the_variable_and_what_is_allowed():
    with pytest.raises(SettingError) as err:
        settings.FAST.read({"COURSE_FAST": "maybe"})
    assert str(err.value) == "COURSE_FAST='maybe' is not allowed: use true or false"


def test_the_library_warns_once_and_keeps_going(monkeypatch, capsys):
    monkeypatch.setattr(config, "_warned", set())
    monkeypatch.setenv("COURSE_CHECKS_STRICT", "sometimes")
    assert config.strict_checks() is False and config.strict_checks() is False
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["course: COURSE_CHECKS_STRICT='sometimes' is not allowed: use true or false; using the default"]


def test_the_library_reads_its_settings_through_the_registry(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_FAST", "yes")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COURSE_DATA_URL", "https://mirror.example.org/datasets")
    monkeypatch.setenv("COURSE_OFFLINE", "0")
    assert config.fast_mode() is True and config.shared_data_dir() == tmp_path
    assert config.data_url() == "https://mirror.example.org/datasets/" and config.offline() is False
    monkeypatch.delenv("COURSE_DATA_URL")
    assert config.data_url() == "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
