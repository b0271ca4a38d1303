"""The lesson a class is running, in Redis: which step, whether its question is open, the reveal, answers.

The instructor moves the class (each action checks the instructor token, shared/services/moderation.py);
every dashboard process reads the same state, so a student's page follows the step wherever it runs, and
a restart loses nothing. The running lesson's TOML text is kept with the state: editing the file mid-lesson
changes nothing until the lesson is started again.

An answer is one hash field per student (`Keys.answers`): a retry or a change writes the same field, so
answers are never duplicated. It is stored by a Lua script that checks, atomically with the write, that
the question is the class's current one and still open, so no answer lands after the close.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass
from typing import Any

from shared.contract.problems import Problem
from shared.contract.records import Output
from shared.contract.settings import Settings
from shared.services.classes import Student
from shared.services.moderation import require_instructor
from shared.services.store import Store
from shared.teaching.lessons import Blind, Lesson, LessonError, Question, Step, Tally, clean_answer, parse, tally

OPEN, CLOSED = "open", "closed"  # a step's question: not asked yet (""), open, closed
BLIND_CANDIDATES = 2000          # the class's newest outputs a blind comparison picks its texts from

# KEYS: lesson state, answers of the question, questions asked. ARGV: question key, student id, answer JSON, now.
STORE_ANSWER = """
local state = redis.call('HMGET', KEYS[1], 'question_key', 'question')
if state[1] ~= ARGV[1] then return 'not_current_question' end
if state[2] ~= 'open' then return 'question_closed' end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[3], 'NX', ARGV[4], ARGV[1])
redis.call('HINCRBY', KEYS[1], 'answers_version', 1)
return 'ok'
"""


@dataclass(frozen=True)
class ClassLesson:
    """Where a class is in its lesson, as every page reads it."""

    code: str
    lesson: Lesson
    index: int              # the current step, from 0
    question_state: str     # "", "open" or "closed"
    revealed: bool
    step_started_at: float
    blind: Blind | None     # the texts of an open (or closed) blind comparison
    version: int            # grows with every move of the instructor: pages compare it to follow

    @property
    def step(self) -> Step:
        return self.lesson.steps[self.index]

    @property
    def question(self) -> Question | None:
        return self.step.question

    @property
    def question_key(self) -> str:
        return self.lesson.question_key(self.index)

    @property
    def results_hidden(self) -> bool:
        return self.step.hide_results and not self.revealed

    @property
    def accepting(self) -> bool:
        return self.question is not None and self.question_state == OPEN


def current(store: Store, code: str) -> ClassLesson | None:
    raw = {k.decode(): v.decode() for k, v in store.redis.hgetall(store.keys.lesson(code)).items()}
    if not raw.get("source"):
        return None
    try:
        lesson = parse(raw["source"], raw.get("file", "lesson"))
    except LessonError:
        return None  # it was valid when started; a damaged record is no lesson, never a crash
    index = min(int(raw.get("step") or 0), len(lesson.steps) - 1)
    blind = json.loads(raw["blind"]) if raw.get("blind") else None
    return ClassLesson(code, lesson, index, raw.get("question", ""), raw.get("revealed") == "1",
                       float(raw.get("step_started_at") or 0), Blind(tuple(blind["output_ids"]), tuple(blind["truth"]))
                       if blind else None, int(raw.get("version") or 0))


def version(store: Store, code: str) -> int:
    """What a student's page polls: one small read. 0 when no lesson runs."""
    return int(store.redis.hget(store.keys.lesson(code), "version") or 0)


def answers_version(store: Store, code: str) -> int:
    return int(store.redis.hget(store.keys.lesson(code), "answers_version") or 0)


# --- the instructor moves the class ------------------------------------------------------------------
def start(store: Store, settings: Settings, token: str, code: str, lesson: Lesson) -> None:
    """Start (or restart from its first step) `lesson` for the class."""
    require_instructor(settings, token)
    with store.redis.pipeline() as pipe:
        pipe.hset(store.keys.lesson(code), mapping={"source": lesson.source, "file": lesson.file,
                                                    "started_at": time.time()})
        pipe.execute()
    _go(store, code, lesson, 0)


def stop(store: Store, settings: Settings, token: str, code: str) -> None:
    """The labs work as without a lesson; the answers stay for the export."""
    require_instructor(settings, token)
    store.redis.delete(store.keys.lesson(code))


def go_to(store: Store, settings: Settings, token: str, code: str, index: int) -> None:
    require_instructor(settings, token)
    running = current(store, code)
    if running is not None:
        _go(store, code, running.lesson, max(0, min(index, len(running.lesson.steps) - 1)))


def _go(store: Store, code: str, lesson: Lesson, index: int) -> None:
    with store.redis.pipeline() as pipe:
        pipe.hset(store.keys.lesson(code), mapping={"step": index, "question_key": lesson.question_key(index),
                                                    "question": "", "revealed": 0, "blind": "",
                                                    "step_started_at": time.time()})
        pipe.hincrby(store.keys.lesson(code), "version", 1)
        pipe.execute()


def open_question(store: Store, settings: Settings, token: str, code: str) -> None:
    """Open the step's question; a blind comparison first picks the class's texts (Problem.Invalid
    `blind_no_outputs` while the class has fewer than two of the step's configurations)."""
    require_instructor(settings, token)
    running = current(store, code)
    if running is None or running.question is None:
        return
    fields: dict[str, Any] = {"question": OPEN}
    if running.question.kind == "blind" and running.blind is None:
        blind = pick_blind(store, running)
        fields["blind"] = json.dumps({"output_ids": list(blind.output_ids), "truth": list(blind.truth)})
    _set(store, code, fields)


def close_question(store: Store, settings: Settings, token: str, code: str) -> None:
    require_instructor(settings, token)
    _set(store, code, {"question": CLOSED})


def reveal(store: Store, settings: Settings, token: str, code: str, shown: bool = True) -> None:
    """Show the step's hidden results and the blind comparison's truth; closes an open question."""
    require_instructor(settings, token)
    running = current(store, code)
    fields: dict[str, Any] = {"revealed": int(shown)}
    if running is not None and running.question_state == OPEN:
        fields["question"] = CLOSED
    _set(store, code, fields)


def _set(store: Store, code: str, fields: dict[str, Any]) -> None:
    with store.redis.pipeline() as pipe:
        pipe.hset(store.keys.lesson(code), mapping=fields)
        pipe.hincrby(store.keys.lesson(code), "version", 1)
        pipe.execute()


def pick_blind(store: Store, running: ClassLesson) -> Blind:
    """One of the class's outputs per configuration of the step's task (newest ones, not hidden), in a
    shuffled order; at least two configurations must have one."""
    task = running.step.task
    keys = task.group_keys() if task else []
    ids = [i.decode() for i in store.redis.zrevrange(store.keys.outputs(running.code), 0, BLIND_CANDIDATES - 1)]
    hidden = {h.decode() for h in store.redis.smembers(store.keys.hidden(running.code))}
    found: dict[int, list[str]] = {}
    for output in store.outputs([i for i in ids if i not in hidden]):
        if task and output.lab == task.lab and output.config.group_key() in keys:
            found.setdefault(keys.index(output.config.group_key()), []).append(output.id)
    if len(found) < 2:
        raise Problem.Invalid([Problem("blind_no_outputs")])
    picks = [(random.choice(candidates[:20]), config) for config, candidates in found.items()]
    random.shuffle(picks)
    return Blind(tuple(p[0] for p in picks), tuple(p[1] for p in picks))


def blind_outputs(store: Store, running: ClassLesson) -> list[Output]:
    return store.outputs(list(running.blind.output_ids)) if running.blind else []


# --- answers ---------------------------------------------------------------------------------------
def answer(store: Store, student: Student, question_key: str, value: Any) -> None:
    """Store (or change) `student`'s answer to the class's current question. Refused with a message
    (Problem.Invalid) when no lesson runs, the question is not this class's current one, it is closed,
    or the answer is malformed or too long; nothing is stored then."""
    running = current(store, student.code)
    if running is None:
        raise Problem.Invalid([Problem("no_lesson")])
    if running.question is None or question_key != running.question_key:
        raise Problem.Invalid([Problem("not_current_question")])
    cleaned = clean_answer(running.question, value, running.blind)
    record = json.dumps(asdict(Answer(cleaned, student.label, time.time())), ensure_ascii=False)
    script = store.redis.register_script(STORE_ANSWER)
    outcome = script(keys=[store.keys.lesson(student.code), store.keys.answers(student.code, question_key),
                           store.keys.questions(student.code)], args=[question_key, student.id, record, time.time()])
    outcome = outcome.decode() if isinstance(outcome, bytes) else outcome
    if outcome != "ok":
        raise Problem.Invalid([Problem(outcome)])


@dataclass(frozen=True)
class Answer:
    """One student's answer to one question: `Keys.answers(code, question)`, student id -> this as JSON."""

    value: Any               # as `clean_answer` left it (a choice's index, a number, the blind's order...)
    label: str = ""          # the student's label when they answered (for the export)
    at: float | None = None  # when, epoch seconds

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Answer:
        return cls(value=data.get("value"), label=str(data.get("label") or ""), at=data.get("at"))


def answers(store: Store, code: str, question_key: str) -> dict[str, Answer]:
    """Student id -> their answer, for one question."""
    raw = store.redis.hgetall(store.keys.answers(code, question_key))
    return {k.decode(): Answer.from_dict(json.loads(v)) for k, v in raw.items()}


def own_answer(store: Store, student: Student, question_key: str) -> Any:
    raw = store.redis.hget(store.keys.answers(student.code, question_key), student.id)
    return json.loads(raw)["value"] if raw else None


def class_tally(store: Store, running: ClassLesson) -> Tally | None:
    if running.question is None:
        return None
    found = answers(store, running.code, running.question_key)
    return tally(running.question, [a.value for a in found.values()], running.blind)


def asked(store: Store, code: str) -> list[str]:
    """Question keys the class answered, in the order they were first answered."""
    return [k.decode() for k in store.redis.zrange(store.keys.questions(code), 0, -1)]
