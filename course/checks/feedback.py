"""The result of one graded check: shown as a coloured box in Jupyter, as plain text elsewhere."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

PASSED = "passed"
FAILED = "failed"
ERROR = "error"  # the grader itself broke: a bug in the course, reported as a failure
UNANSWERED = "unanswered"  # the answer is still None
UNKNOWN = "unknown"  # no question with that id

RESULT = "result"  # the kind of a chapter result (course.checks.catalog.RESULT): its own labels below

_STYLE = {
    # status: (symbol, label, accent colour, background)
    PASSED: ("✓", "Correct", "#2e7d32", "#e8f5e9"),
    FAILED: ("✗", "Not yet", "#c62828", "#fdecea"),
    ERROR: ("✗", "Check failed", "#c62828", "#fdecea"),
    UNKNOWN: ("✗", "Unknown question", "#c62828", "#fdecea"),
    UNANSWERED: ("…", "Not answered yet", "#8d6e00", "#fff8e1"),
}
# A chapter result is the chapter's own figure, not an answer: it is "reached", not "correct".
_RESULT_LABELS = {PASSED: "Figure reached", FAILED: "Figure not reached yet"}


@dataclass
class Feedback:
    """What ``check()`` returns. ``passed`` is True only for a correct answer; ``bool(feedback)`` agrees.

    ``kind`` is the question's kind ("exercise" or "result"); a chapter result is labelled "Figure reached".
    """

    question_id: str
    title: str
    status: str
    message: str
    hint: str | None = None
    notes: list[str] = field(default_factory=list)
    kind: str = "exercise"

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def __bool__(self) -> bool:
        return self.passed

    def _heading(self) -> str:
        label = _STYLE[self.status][1]
        if self.kind == RESULT:
            label = _RESULT_LABELS.get(self.status, label)
        name = f"{self.question_id} · {self.title}" if self.title else self.question_id
        return f"{label}: {name}"

    def __str__(self) -> str:
        symbol = _STYLE[self.status][0]
        lines = [f"{symbol} {self._heading()}"]
        lines += [f"  {line}" for line in self.message.splitlines() if line.strip()]
        if self.hint:
            lines.append(f"  Hint: {self.hint}")
        lines += [f"  Note: {note}" for note in self.notes]
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        symbol, _, accent, background = _STYLE[self.status]
        parts = [
            f'<div class="course-check course-check-{self.status}" style="border-left:6px solid {accent};'
            f"background:{background};color:#1b1b1b;padding:8px 12px;margin:6px 0;border-radius:4px;"
            'font-family:system-ui,sans-serif;line-height:1.45">',
            f'<div style="font-weight:600"><span style="color:{accent};font-size:1.15em">{symbol}</span> '
            f"{_esc(self._heading())}</div>",
            f"<div>{_esc(self.message)}</div>",
        ]
        if self.hint:
            parts.append(f'<div style="margin-top:4px"><b>Hint:</b> {_esc(self.hint)}</div>')
        for note in self.notes:
            parts.append(f'<div style="margin-top:4px;font-size:0.9em;color:#555">Note: {_esc(note)}</div>')
        parts.append("</div>")
        return "".join(parts)


def _esc(text: str) -> str:
    """Escape text (it may quote student input) and keep its line breaks."""
    return html.escape(str(text), quote=True).replace("\n", "<br>")
