"""Lessons as files: a declarative TOML format (docs/lessons.md), read, validated and scored here.

A lesson is a title, objectives and steps. A step has Markdown text in Spanish and English, and
optionally a lab task (prefilled in the student's lab), a question (multiple choice, number, free text
or a blind comparison of the class's outputs), what the projector shows, and whether the class's
results stay hidden until the instructor reveals them. Pure logic: no Redis, no streamlit, no torch.

A malformed file is an expected case: `LessonError` names the file, the line (tomllib's, or the line
of the step the field is in) and the field, in both languages; `load_folder` keeps the good lessons
and returns the errors beside them, so one broken file never takes the dashboard down.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from shared.contract.decoding import DecodingConfig
from shared.contract.i18n import t
from shared.contract.problems import Problem
from shared.teaching.sweeps import SWEEP_NAMES

BUILT_IN_FOLDER = Path(__file__).resolve().parents[2] / "lessons"
LABS = ("decoding", "ablation")          # the page a step's task prefills
QUESTION_KINDS = ("choice", "number", "text", "blind")
PROJECTOR_VIEWS = ("text", "question", "tally", "outputs", "spotlight")
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")
MAX_LESSON_BYTES = 200_000      # a lesson is a page of text, not a data file
MAX_STEPS = 60
MAX_OPTIONS = 8                 # choices a projector can show as bars
MAX_BLIND_TEXTS = 4             # texts a blind comparison shows (one per configuration, at most)
MAX_ANSWER_CHARS = 500          # the longest free-text answer kept
MAX_TEXT_CHARS = 20_000         # the longest step text


class LessonError(ValueError):
    """A lesson file that cannot be used: where (file, line, field) and what, in both languages."""

    def __init__(self, file: str, code: str, field_path: str = "", line: int | None = None, **params: Any):
        self.file, self.code, self.field, self.line, self.params = file, code, field_path, line, params
        super().__init__(self.message("en"))

    def message(self, lang: str) -> str:
        where = self.file + (f", {t('lessonfile.line', lang, line=self.line)}" if self.line else "")
        if self.field:
            where += f", {self.field}"
        return f"{where}: {t(f'lessonfile.{self.code}', lang, **self.params)}"


@dataclass(frozen=True)
class Localized:
    """One text in both languages."""

    es: str
    en: str

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.es


@dataclass(frozen=True)
class LabTask:
    """What the step asks the student to run, prefilled in their lab."""

    lab: str                                  # "decoding" or "ablation"
    prompt: str = ""                          # the decoding lab's prompt
    configs: tuple[dict[str, Any], ...] = ()  # DecodingConfig rows (validated); empty: the sweep's rows
    sweep: str = ""                           # a sweep of the decoding lab (shared/teaching/sweeps.py)
    topic: str = ""                           # the ablation lab's topic

    def config_labels(self) -> list[str]:
        """The configurations as the class reads them (effective: sampling without top_k shows top-k 50)."""
        return [DecodingConfig.from_dict(c).label() for c in self.configs]

    def group_keys(self) -> list[str]:
        return [DecodingConfig.from_dict(c).group_key() for c in self.configs]


@dataclass(frozen=True)
class Question:
    kind: str                              # choice, number, text or blind
    text: Localized
    options: tuple[Localized, ...] = ()    # choice
    low: float = 0.0                       # number: the slider's range and step
    high: float = 10.0
    step: float = 1.0
    max_chars: int = 300                   # text


@dataclass(frozen=True)
class Step:
    id: str
    title: Localized
    text: Localized
    task: LabTask | None = None
    question: Question | None = None
    projector: str = "text"   # what the projector shows while the step is current
    hide_results: bool = False  # the class's results of this step stay hidden until the reveal


@dataclass(frozen=True)
class Lesson:
    id: str
    title: Localized
    objectives: tuple[Localized, ...]
    steps: tuple[Step, ...]
    file: str = ""
    source: str = field(default="", repr=False, compare=False)  # the TOML text, kept with a running lesson

    def question_key(self, index: int) -> str:
        """The id answers are stored under: lesson and step, both from the file."""
        return f"{self.id}/{self.steps[index].id}"


# --- reading a file ------------------------------------------------------------------------------
def load_file(path: Path) -> Lesson:
    """Read and validate one lesson file; raises LessonError."""
    name = path.name
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise LessonError(name, "unreadable", detail=error.strerror or str(error)) from None
    if len(raw) > MAX_LESSON_BYTES:
        raise LessonError(name, "too_big", limit=MAX_LESSON_BYTES)
    try:
        return parse(raw.decode("utf-8"), name)
    except UnicodeDecodeError:
        raise LessonError(name, "not_utf8") from None


@lru_cache(maxsize=32)
def parse(source: str, name: str) -> Lesson:
    """A lesson from its TOML text (cached: every page run of a class reads the running lesson's text)."""
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as error:
        line = re.search(r"line (\d+)", str(error))
        raise LessonError(name, "bad_toml", line=int(line.group(1)) if line else None,
                          detail=str(error).split(" (at")[0]) from None
    return replace(_Reader(name, source).lesson(data), source=source)


def load_folder(folder: Path) -> tuple[list[Lesson], list[LessonError]]:
    """Every `*.toml` lesson of a folder, sorted by file name; a broken file is an error, not a crash.
    Two files with the same lesson id: the second is an error."""
    lessons: list[Lesson] = []
    errors: list[LessonError] = []
    for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
        try:
            lesson = load_file(path)
        except LessonError as error:
            errors.append(error)
            continue
        if any(known.id == lesson.id for known in lessons):
            errors.append(LessonError(path.name, "duplicate_id", "id", value=lesson.id))
            continue
        lessons.append(lesson)
    return lessons, errors


class _Reader:
    """Walks the parsed TOML, naming each field by its path (`steps[2].question.kind`) when it is wrong."""

    def __init__(self, name: str, source: str):
        self.name, self.source = name, source

    def fail(self, path: str, code: str, **params: Any) -> LessonError:
        return LessonError(self.name, code, path, self.line_of(path), **params)

    def line_of(self, path: str) -> int | None:
        """tomllib keeps no positions: the line of the step's `[[steps]]` header, or of the field's own
        `key =` inside that step when it is there."""
        lines = self.source.splitlines()
        found = re.match(r"steps\[(\d+)\]", path)
        start, end = 0, len(lines)
        if found:
            headers = [i for i, text in enumerate(lines) if re.match(r"\s*\[\[steps\]\]", text)]
            index = int(found.group(1)) - 1
            if index >= len(headers):
                return None
            start = headers[index]
            end = headers[index + 1] if index + 1 < len(headers) else len(lines)
        key = re.split(r"[.\[]", path.rsplit(".", 1)[-1])[0]
        for number in range(start, end):
            if re.match(rf"\s*{re.escape(key)}(\.\w+)?\s*=", lines[number]):
                return number + 1
        return start + 1 if found else None

    def table(self, data: Any, path: str) -> Mapping[str, Any]:
        if not isinstance(data, Mapping):
            raise self.fail(path, "not_a_table")
        return data

    def text(self, data: Mapping[str, Any], key: str, path: str, limit: int = 300, required: bool = True) -> str:
        value = data.get(key, "")
        if not isinstance(value, str):
            raise self.fail(path, "not_text")
        if required and not value.strip():
            raise self.fail(path, "missing")
        if len(value) > limit:
            raise self.fail(path, "too_long", limit=limit)
        return value.strip()

    def localized(self, data: Mapping[str, Any], key: str, path: str, limit: int = 300) -> Localized:
        value = self.table(data.get(key), path) if key in data else None
        if value is None:
            raise self.fail(path, "missing")
        return Localized(es=self.text(value, "es", f"{path}.es", limit), en=self.text(value, "en", f"{path}.en", limit))

    def identifier(self, data: Mapping[str, Any], path: str) -> str:
        value = data.get("id")
        if not isinstance(value, str) or not ID_PATTERN.match(value):
            raise self.fail(path, "bad_id")
        return value

    def lesson(self, data: Mapping[str, Any]) -> Lesson:
        objectives = data.get("objectives", [])
        if not isinstance(objectives, list):
            raise self.fail("objectives", "not_a_list")
        steps = data.get("steps")
        if not isinstance(steps, list) or not steps:
            raise self.fail("steps", "no_steps")
        if len(steps) > MAX_STEPS:
            raise self.fail("steps", "too_many", limit=MAX_STEPS)
        read = tuple(self.step(self.table(s, f"steps[{i}]"), f"steps[{i}]") for i, s in enumerate(steps, 1))
        ids = [s.id for s in read]
        duplicate = next((i for n, i in enumerate(ids) if i in ids[:n]), None)
        if duplicate:
            raise self.fail(f"steps[{ids.index(duplicate, ids.index(duplicate) + 1) + 1}].id", "duplicate_id",
                            value=duplicate)
        return Lesson(id=self.identifier(data, "id"), title=self.localized(data, "title", "title"),
                      objectives=tuple(Localized(**self._pair(self.table(o, f"objectives[{i}]"), f"objectives[{i}]"))
                                       for i, o in enumerate(objectives, 1)),
                      steps=read, file=self.name)

    def _pair(self, data: Mapping[str, Any], path: str) -> dict[str, str]:
        return {lang: self.text(data, lang, f"{path}.{lang}") for lang in ("es", "en")}

    def step(self, data: Mapping[str, Any], path: str) -> Step:
        projector = data.get("projector", "text")
        if projector not in PROJECTOR_VIEWS:
            raise self.fail(f"{path}.projector", "one_of", choices=", ".join(PROJECTOR_VIEWS))
        hide = data.get("hide_results", False)
        if not isinstance(hide, bool):
            raise self.fail(f"{path}.hide_results", "not_bool")
        task = self.task(self.table(data["task"], f"{path}.task"), f"{path}.task") if "task" in data else None
        question = (self.question(self.table(data["question"], f"{path}.question"), f"{path}.question", task)
                    if "question" in data else None)
        return Step(id=self.identifier(data, f"{path}.id"), title=self.localized(data, "title", f"{path}.title"),
                    text=self.localized(data, "text", f"{path}.text", MAX_TEXT_CHARS), task=task,
                    question=question, projector=projector, hide_results=hide)

    def task(self, data: Mapping[str, Any], path: str) -> LabTask:
        lab = data.get("lab")
        if lab not in LABS:
            raise self.fail(f"{path}.lab", "one_of", choices=", ".join(LABS))
        sweep = self.text(data, "sweep", f"{path}.sweep", required=False)
        if sweep and sweep not in SWEEP_NAMES:
            raise self.fail(f"{path}.sweep", "one_of", choices=", ".join(SWEEP_NAMES))
        raw_configs = data.get("configs", [])
        if not isinstance(raw_configs, list) or len(raw_configs) > 12:
            raise self.fail(f"{path}.configs", "not_a_list")
        configs = tuple(self.config(self.table(c, f"{path}.configs[{i}]"), f"{path}.configs[{i}]")
                        for i, c in enumerate(raw_configs, 1))
        return LabTask(lab=lab, prompt=self.text(data, "prompt", f"{path}.prompt", 2000, required=False),
                       configs=configs, sweep=sweep, topic=self.text(data, "topic", f"{path}.topic", required=False))

    def config(self, data: Mapping[str, Any], path: str) -> dict[str, Any]:
        unknown = set(data) - set(DecodingConfig.__dataclass_fields__)
        if unknown:
            raise self.fail(path, "unknown_field", value=", ".join(sorted(unknown)))
        try:
            return DecodingConfig.from_dict(data).to_dict()
        except Problem.Invalid as invalid:
            raise self.fail(path, "bad_config", detail=invalid.messages("en")[0]) from None

    def question(self, data: Mapping[str, Any], path: str, task: LabTask | None) -> Question:
        kind = data.get("kind")
        if kind not in QUESTION_KINDS:
            raise self.fail(f"{path}.kind", "one_of", choices=", ".join(QUESTION_KINDS))
        text = self.localized(data, "text", f"{path}.text", 1000)
        if kind == "choice":
            options = data.get("options")
            if not isinstance(options, list) or not 2 <= len(options) <= MAX_OPTIONS:
                raise self.fail(f"{path}.options", "options", limit=MAX_OPTIONS)
            return Question(kind, text, options=tuple(
                Localized(**self._pair(self.table(o, f"{path}.options[{i}]"), f"{path}.options[{i}]"))
                for i, o in enumerate(options, 1)))
        if kind == "number":
            low, high, step = (data.get(k, d) for k, d in (("min", 0), ("max", 10), ("step", 1)))
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high, step)) \
                    or not low < high or step <= 0:
                raise self.fail(f"{path}.min", "bad_range")
            return Question(kind, text, low=float(low), high=float(high), step=float(step))
        if kind == "blind" and (task is None or not 2 <= len(task.configs) <= MAX_BLIND_TEXTS):
            raise self.fail(f"{path}.kind", "blind_needs_configs", limit=MAX_BLIND_TEXTS)
        limit = data.get("max_chars", 300)
        if not isinstance(limit, int) or not 1 <= limit <= MAX_ANSWER_CHARS:
            raise self.fail(f"{path}.max_chars", "bad_range")
        return Question(kind, text, max_chars=limit)


# --- answers -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Blind:
    """A blind comparison as the class sees it: texts in a shuffled order; `truth[i]` is the index of
    the configuration (in the task) that made text i, revealed only at the reveal."""

    output_ids: tuple[str, ...]
    truth: tuple[int, ...]


def clean_answer(question: Question, value: Any, blind: Blind | None = None) -> Any:
    """The answer as stored, or Problem.Invalid: an option index, a number in range, a text within the
    limit, or one configuration index per blind text. The client sends it: everything is checked."""
    if question.kind == "choice":
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(question.options):
            return value
    elif question.kind == "number":
        if isinstance(value, (int, float)) and not isinstance(value, bool) and question.low <= value <= question.high:
            return float(value)
    elif question.kind == "text":
        if isinstance(value, str):
            text = "".join(ch for ch in value if ch.isprintable() or ch == "\n").strip()
            if len(text) > question.max_chars:
                raise Problem.Invalid([Problem("answer_too_long", limit=question.max_chars)])
            if text:
                return text
    elif question.kind == "blind" and blind is not None:
        if isinstance(value, list) and len(value) == len(blind.output_ids) and all(
                isinstance(v, int) and not isinstance(v, bool) and 0 <= v < len(blind.truth) for v in value):
            return value
    raise Problem.Invalid([Problem("bad_answer")])


@dataclass
class Tally:
    """The class's answers to one question, counted for the projector."""

    answered: int = 0
    counts: list[int] = field(default_factory=list)          # choice: per option
    values: list[float] = field(default_factory=list)        # number: every answer
    texts: list[str] = field(default_factory=list)           # text: every answer
    guesses: list[list[int]] = field(default_factory=list)   # blind: per text, per configuration
    correct: list[int] = field(default_factory=list)         # blind: per text, guesses that were right


def tally(question: Question, answers: Iterable[Any], blind: Blind | None = None) -> Tally:
    """Count answers (already cleaned when stored; anything of the wrong shape is skipped)."""
    result = Tally(counts=[0] * len(question.options))
    if blind is not None:
        result.guesses = [[0] * len(blind.truth) for _ in blind.output_ids]
    for value in answers:
        try:
            value = clean_answer(question, value, blind)
        except Problem.Invalid:
            continue
        result.answered += 1
        if question.kind == "choice":
            result.counts[value] += 1
        elif question.kind == "number":
            result.values.append(value)
        elif question.kind == "text":
            result.texts.append(value)
        else:
            for text_index, config_index in enumerate(value):
                result.guesses[text_index][config_index] += 1
    if blind is not None:
        result.correct = [result.guesses[i][blind.truth[i]] for i in range(len(blind.output_ids))]
    return result


def answer_text(question: Question, value: Any, lang: str, labels: list[str] | None = None) -> str:
    """An answer as a teacher reads it in the export."""
    if question.kind == "choice" and isinstance(value, int) and 0 <= value < len(question.options):
        return question.options[value].get(lang)
    if question.kind == "blind" and isinstance(value, list):
        names = labels or []
        return "; ".join(f"{i + 1} → {names[v] if v < len(names) else v}" for i, v in enumerate(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def main(paths: list[str]) -> int:
    """`python -m shared.teaching.lessons FILE...`: check lesson files as the console would; 1 on an error."""
    failed = 0
    for name in paths:
        try:
            lesson = load_file(Path(name))
        except LessonError as error:
            print(error.message("en"))
            failed = 1
            continue
        print(f"{name}: ok · {lesson.id} · {len(lesson.steps)} steps · "
              f"{sum(1 for s in lesson.steps if s.question)} questions")
    return failed


if __name__ == "__main__":
    import sys
    raise SystemExit(main(sys.argv[1:]))
