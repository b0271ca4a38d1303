"""The teacher's record of a class: per student, their answers to the lesson's questions and their outputs.

Two forms: CSV rows (one per answer or output, for a spreadsheet; cells made formula-safe) and one
readable Markdown report per class (a section per student). Instructor only. Model output and answers
are the students' text: in the Markdown they sit in fenced blocks longer than any backtick run they
contain, so they never become Markdown.
"""

from __future__ import annotations

import json
import re
from typing import Any

from shared.contract.settings import Settings
from shared.services.classes import student_records
from shared.services.lessons import answers, asked, current
from shared.services.moderation import export_csv, iso_time, require_instructor
from shared.services.store import Store
from shared.teaching.lessons import Lesson, answer_text

EXPORT_FIELDS = ["student", "student_id", "kind", "question", "answer", "answered_at", "lab", "prompt",
                 "configuration", "seed", "text", "finished_at"]


def _students(store: Store, code: str) -> dict[str, str]:
    """student id -> label, in join order."""
    return {i: row.label for i, row in student_records(store, code).items()}


def _question_text(lesson: Lesson | None, key: str, lang: str) -> tuple[str, Any]:
    """The question as the lesson asks it, and the Question to read answers with (when it is known)."""
    if lesson is not None:
        for step in lesson.steps:
            if f"{lesson.id}/{step.id}" == key and step.question:
                return f"{key} · {step.question.text.get(lang)}", step
    return key, None


def lesson_rows(store: Store, settings: Settings, token: str, code: str, lang: str = "es") -> list[dict]:
    """Every answer and every output of the class, student by student."""
    require_instructor(settings, token)
    running = current(store, code)
    lesson = running.lesson if running else None
    students = _students(store, code)
    rows: dict[str, list[dict]] = {student_id: [] for student_id in students}
    for key in asked(store, code):
        title, step = _question_text(lesson, key, lang)
        labels = step.task.config_labels() if step and step.task else None
        for student_id, found in answers(store, code, key).items():
            value = answer_text(step.question, found.value, lang, labels) if step else json.dumps(found.value)
            rows.setdefault(student_id, []).append({
                "student": found.label or student_id, "student_id": student_id, "kind": "answer",
                "question": title, "answer": value, "answered_at": _when(found.at)})
    ids = [i.decode() for i in store.redis.zrange(store.keys.outputs(code), 0, -1)]
    for output in store.outputs(ids):
        rows.setdefault(output.student_id, []).append({
            "student": output.student, "student_id": output.student_id, "kind": "output", "lab": output.lab,
            "prompt": output.prompt, "configuration": output.label, "seed": output.seed, "text": output.text,
            "finished_at": _when(output.finished_at)})
    return [{**row, "student": students.get(row["student_id"], row["student"])}
            for student_id in rows for row in rows[student_id]]


def _when(seconds: float | None) -> str:
    return iso_time(seconds) if seconds else ""  # ISO 8601 with the zone, as the class export


def lesson_csv(rows: list[dict]) -> str:
    return export_csv(rows, EXPORT_FIELDS)


def lesson_markdown(store: Store, settings: Settings, token: str, code: str, rows: list[dict],
                    headings: dict[str, str]) -> str:
    """A readable report: the class, then per student their answers and their outputs. `headings`:
    the report's words in the teacher's language (answers, outputs, prompt, none)."""
    require_instructor(settings, token)
    running = current(store, code)
    title = f"# {code}" + (f" · {running.lesson.title.es} / {running.lesson.title.en}" if running else "")
    lines = [title, ""]
    for student_id, label in _students(store, code).items():
        mine = [r for r in rows if r["student_id"] == student_id]
        lines += [f"## {_plain(label)}", "", f"### {headings['answers']}", ""]
        given = [r for r in mine if r["kind"] == "answer"]
        for row in given:
            lines += [f"- {_plain(row['question'])}", "", *_fenced(row["answer"]), ""]
        if not given:
            lines += [f"_{headings['none']}_", ""]
        lines += [f"### {headings['outputs']}", ""]
        made = [r for r in mine if r["kind"] == "output"]
        for row in made:
            lines += [f"- {row['lab']} · {_plain(row['configuration'])} · seed {row['seed']}", "",
                      f"{headings['prompt']}:", "", *_fenced(row["prompt"]), "", *_fenced(row["text"]), ""]
        if not made:
            lines += [f"_{headings['none']}_", ""]
    return "\n".join(lines)


def _plain(text: str) -> str:
    """A one-line heading or item: Markdown's special characters escaped."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!<>|~])", r"\\\1", " ".join(str(text).split()))


def _fenced(text: str) -> list[str]:
    """A fence longer than any run of backticks in `text`: what is inside stays text."""
    longest = max((len(run) for run in re.findall(r"`+", text or "")), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}text", text or "", fence]
