"""The course's Korean terms: one glossary (notebooks/GLOSSARY.md, which students receive with the chapters), and
the chapters use its terms.

A chapter glosses an English term with its Korean one in parentheses: "learning rate (학습률)". In the chapters'
prose (headings aside), every such Korean term must be in the glossary, and where the English before it is a
glossary entry, the Korean must be that entry's, so one idea has one Korean name in every chapter. A term the
glossary lists as one not to use (a misleading or second name for the same idea) appears in no chapter.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GLOSSARY = ROOT / "notebooks" / "GLOSSARY.md"
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]*.ipynb"))
HANGUL = re.compile(r"[가-힣]")
GLOSS = re.compile(r"\(([^()]*[가-힣][^()]*)\)")


@dataclass(frozen=True)
class Entry:
    english: tuple[str, ...]  # the ways the chapters write it ("normalisation", "normalization")
    korean: str
    avoid: tuple[str, ...]


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def read_glossary(path: Path = GLOSSARY) -> list[Entry]:
    """The table's rows: | English (variants split by " / ") | 한국어 | not these |."""
    entries = []
    for row in path.read_text(encoding="utf-8").splitlines():
        if not row.startswith("|") or set(row) <= set("|- :"):
            continue
        english, korean, avoid = (_cells(row) + ["", ""])[:3]
        if english.lower() == "english":
            continue
        entries.append(Entry(tuple(v.strip().lower() for v in english.split(" / ")), korean,
                             tuple(a.strip() for a in avoid.split(",") if a.strip())))
    return entries


def _normal(text: str) -> str:
    """Lower case, no Markdown emphasis or code marks, hyphens as spaces: "**Nesterov** mini-batch" -> "nesterov
    mini batch"."""
    return re.sub(r"[\s-]+", " ", re.sub(r"[*_`]", "", text.lower())).strip()


def korean_head(gloss: str) -> tuple[str, str]:
    """(the English inside the gloss, its Korean term): "스킵 연결, shortcut" -> ("", "스킵 연결");
    "logits, 로짓" -> ("logits", "로짓"); "겹치는 풀링: 3×3 windows" -> ("", "겹치는 풀링")."""
    parts = gloss.split(",")
    index = next(i for i, part in enumerate(parts) if HANGUL.search(part))
    korean = parts[index].split(":")[0].replace("`", "").replace('"', "")
    return ",".join(parts[:index]).strip(), " ".join(korean.split())


def glosses(path: Path) -> list[tuple[str, str]]:
    """(the English before it, the Korean term) for every gloss in the chapter's prose, headings aside (a cell's
    other lines are read as one, since a sentence may wrap between a term and its gloss)."""
    found = []
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        lines = "".join(cell["source"]).splitlines()
        prose = " ".join(line for line in lines if not line.lstrip().startswith("#"))
        for match in GLOSS.finditer(prose):
            inside, korean = korean_head(match.group(1))
            before = inside or prose[:match.start()].rstrip(" *_`'\"")
            found.append((before, korean))
    return found


def entry_for(before: str, entries: list[Entry]) -> Entry | None:
    """The entry whose English (the longest that fits) ends the text before a gloss, plurals allowed."""
    text = _normal(before)
    best, length = None, 0
    for entry in entries:
        for english in entry.english:
            form = _normal(english)
            for ending in (form, form + "s", form + "es"):
                if (text == ending or text.endswith(" " + ending)) and len(ending) > length:
                    best, length = entry, len(ending)
    return best


def test_the_glossary_is_a_table_with_one_korean_term_per_idea():
    entries = read_glossary()
    assert len(entries) > 100
    koreans = [e.korean for e in entries]
    assert all(HANGUL.search(k) for k in koreans)
    assert len(set(koreans)) == len(koreans), [k for k in koreans if koreans.count(k) > 1]
    englishes = [v for e in entries for v in e.english]
    assert len(set(englishes)) == len(englishes), [v for v in englishes if englishes.count(v) > 1]
    avoided = {a for e in entries for a in e.avoid}
    assert not avoided & set(koreans), avoided & set(koreans)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name[:3].rstrip("_"))
def test_the_chapter_uses_the_glossarys_terms(path):
    entries = read_glossary()
    known = {e.korean for e in entries}
    wrong = []
    for before, korean in glosses(path):
        entry = entry_for(before, entries)
        if korean not in known:
            wrong.append(f"{korean!r} (after {before[-40:]!r}) is not in the glossary")
        elif entry is not None and entry.korean != korean:
            wrong.append(f"{before[-40:]!r} is {entry.korean!r} in the glossary, not {korean!r}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name[:3].rstrip("_"))
def test_no_chapter_uses_a_term_the_glossary_avoids(path):
    avoided = {a: e.korean for e in read_glossary() for a in e.avoid}
    used = [(korean, before) for before, korean in glosses(path) if korean in avoided]
    assert not used, [f"{k!r} after {b[-40:]!r}: the glossary says {avoided[k]!r}" for k, b in used]


def test_the_checks_catch_what_they_are_for(tmp_path):
    """The glossary's checks on a chapter that writes another name for a term, and one with a term it lacks."""
    entries = [Entry(("feature",), "특징", ("특성",)), Entry(("feature map",), "특징 맵", ()),
               Entry(("momentum",), "모멘텀", ()), Entry(("nesterov momentum",), "네스테로프 모멘텀", ())]
    assert entry_for("Each **feature map", entries).korean == "특징 맵"
    assert entry_for("the learned features", entries).korean == "특징"
    assert entry_for("with Nesterov momentum", entries).korean == "네스테로프 모멘텀"
    assert entry_for("a featured", entries) is None
    chapter = tmp_path / "99_demo.ipynb"
    chapter.write_text(json.dumps({"cells": [
        {"cell_type": "markdown",
         "source": ["## Features (특성)\n", "Its features (특성), a stride (보폭, step) and logits (logits, 로짓).\n"]},
        {"cell_type": "code", "source": ["x = 1  # (무시)"]}]}), encoding="utf-8")
    found = glosses(chapter)
    assert [k for _, k in found] == ["특성", "보폭", "로짓"] and found[1][0].endswith(", a stride")
    assert found[0][0] == "Its features" and found[2][0] == "logits"
