"""The records that cross the process boundary, each defined once with its JSON form.

The dashboard writes a `Request` (with its `Item`s) into a `Submission`; a worker reads it, and writes
one `Output` per item plus its `TokenDetails`; every worker announces a `WorkerInfo`. Each class is kept
as a `ClassInfo` (the workers' retention sweep reads it too) and each of its students as a `StudentInfo`.
Where each lives in Redis is `shared/contract/keys.py`. Records are frozen dataclasses (standard library,
no pydantic: both images already have everything they need); `to_dict()` is the JSON form stored in Redis
and `from_dict()` reads it back, checking the shape of what came from outside (a queue is never trusted).
Records stored before a field existed still read: a missing field takes its documented default.

Change a record here and both sides change with it; mypy --strict checks this package in `make test`.
"""

from __future__ import annotations

import base64
import json
import struct
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from shared.contract.decoding import DecodingConfig
from shared.contract.problems import Problem

# Submission statuses. ACTIVE: not finished, shown as pending, counted against the student's limit.
# CANCELLED: its student stopped it; not a failure (never requeued, never counted as failed).
QUEUED, RUNNING, CHECKING, DONE, FAILED = "queued", "running", "checking", "done", "failed"
CANCELLED = "cancelled"
ACTIVE = (QUEUED, RUNNING, CHECKING)
STATUSES = (QUEUED, RUNNING, CHECKING, DONE, FAILED, CANCELLED)

DECODING, ABLATION, EXPLORE = "decoding", "ablation", "explore"
LABS = (DECODING, ABLATION)  # what a student submits; EXPLORE is the explorer's one forward pass

JSON = dict[str, Any]
# An instruction check as the student configured it: {"id", "kind"?, "pattern"?, "value"?...}; its shape
# is checked by `shared.teaching.checks.check_shape_problem`.
CheckSpec = JSON
# A check's result on one output: {"passed": bool, "detail": English reason, "key": i18n key, "params"}.
CheckResult = JSON
# An output's text metrics (`shared.teaching.metrics.output_metrics`): tokens, words, stopped_by,
# perplexity, mean_logprob, distinct_1, distinct_2, repeated_3gram_share, loop.
Metrics = JSON
METRIC_COLUMNS = ("perplexity", "distinct_1", "distinct_2", "repeated_3gram_share")  # in flat rows


def _malformed() -> Problem.Invalid:
    return Problem.Invalid([Problem("malformed_request")])


def _str(data: Mapping[str, Any], name: str, default: str | None = None) -> str:
    value = data.get(name, default)
    if not isinstance(value, str):
        raise _malformed()
    return value


def _number(data: Mapping[str, Any], name: str, default: float | None = None) -> float:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _malformed()
    return float(value)


def _int(data: Mapping[str, Any], name: str, default: int | None = None) -> int:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _malformed()
    return value


def _list(data: Mapping[str, Any], name: str) -> list[Any]:
    value = data.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _malformed()
    return value


@dataclass(frozen=True)
class Item:
    """One generation a submission asks for: a prompt (variant) with one config and one seed."""

    prompt: str
    config: DecodingConfig
    seed: int
    variant: str = ""  # the ablation lab's name of the prompt variant ("" in the decoding lab)

    @property
    def label(self) -> str:
        return self.config.label()

    @property
    def group_key(self) -> str:
        return self.config.group_key()

    def to_dict(self) -> JSON:
        return {"variant": self.variant, "prompt": self.prompt, "config": self.config.to_dict(), "seed": self.seed,
                "label": self.label, "group_key": self.group_key}

    @classmethod
    def from_dict(cls, data: Any) -> Item:
        """Raises `Problem.Invalid` (malformed, or the config's own problems)."""
        if not isinstance(data, Mapping) or not isinstance(data.get("config"), Mapping):
            raise _malformed()
        return cls(prompt=_str(data, "prompt"), config=DecodingConfig.from_dict(data["config"]),
                   seed=_int(data, "seed"), variant=_str(data, "variant", ""))


def gallery_group(lab: str, item: Item, model: str) -> tuple[str, str]:
    """An output's gallery group (key, readable label): its effective config on one model, and in the
    ablation lab its prompt variant too. Every output's `group_key`/`label` comes from here."""
    if lab == ABLATION:
        return f"{model}|ablation|{item.variant}|{item.group_key}", f"{item.variant} · {item.label} · {model}"
    return f"{model}|{item.group_key}", f"{item.label} · {model}"


@dataclass(frozen=True)
class Request:
    """What a student asked for (one press of Run), as the dashboard validated and enqueued it."""

    id: str
    class_code: str
    student_id: str  # who it is: limits, results, the gallery's "by student" (e.g. "s17")
    student: str     # the label the class sees (e.g. "María · 2")
    lab: str         # decoding, ablation or explore
    model: str
    prompt: str
    items: tuple[Item, ...] = ()
    created_at: float = field(default_factory=time.time)
    total_tokens: int = 0  # tokens the whole submission may generate (its progress bar's end)
    checks: tuple[CheckSpec, ...] = ()
    topic: str = ""

    def to_dict(self) -> JSON:
        return {"id": self.id, "class_code": self.class_code, "student_id": self.student_id,
                "student": self.student, "lab": self.lab, "model": self.model, "prompt": self.prompt,
                "items": [item.to_dict() for item in self.items], "created_at": self.created_at,
                "total_tokens": self.total_tokens, "checks": list(self.checks), "topic": self.topic}

    @classmethod
    def from_dict(cls, data: Any) -> Request:
        """Read a stored request; raises `Problem.Invalid` when it is not one (the worker's guard)."""
        if not isinstance(data, Mapping):
            raise _malformed()
        checks = _list(data, "checks")
        if not all(isinstance(spec, Mapping) for spec in checks):
            raise _malformed()
        student = _str(data, "student", "")
        return cls(id=_str(data, "id"), class_code=_str(data, "class_code"),
                   student_id=_str(data, "student_id", "") or student, student=student,
                   lab=_str(data, "lab", DECODING), model=_str(data, "model", ""), prompt=_str(data, "prompt", ""),
                   items=tuple(Item.from_dict(item) for item in _list(data, "items")),
                   created_at=_number(data, "created_at", 0.0), total_tokens=_int(data, "total_tokens", 0),
                   checks=tuple(dict(spec) for spec in checks), topic=_str(data, "topic", ""))


@dataclass(frozen=True)
class Submission:
    """A request and where it stands: the hash `Keys.submission(id)`."""

    request: Request
    status: str = QUEUED
    created_at: float = 0.0
    progress_done: int = 0
    progress_total: int = 0
    attempts: int = 0  # times a worker started it (1 = first)
    error: Problem | None = None
    worker: str = ""
    started_at: float = 0.0
    finished_at: float = 0.0
    outputs: tuple[str, ...] = ()  # output ids, in item order (when done)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @classmethod
    def new(cls, request: Request) -> Submission:
        return cls(request=request, created_at=request.created_at, progress_total=request.total_tokens)

    def to_hash(self) -> dict[str, str | int | float]:
        """The Redis hash's fields (request and lists as JSON)."""
        return {"request": json.dumps(self.request.to_dict()), "status": self.status, "created_at": self.created_at,
                "progress_done": self.progress_done, "progress_total": self.progress_total,
                "attempts": self.attempts, "error": json.dumps(self.error.to_dict()) if self.error else "",
                "worker": self.worker, "started_at": self.started_at, "finished_at": self.finished_at,
                "outputs": json.dumps(list(self.outputs))}

    @classmethod
    def from_hash(cls, raw: Mapping[bytes, bytes]) -> Submission:
        """Read the hash as Redis returns it. The request is read with `Request.from_dict`, so a damaged
        one raises `Problem.Invalid`; a missing field takes its default."""
        values = {k.decode(): v.decode() for k, v in raw.items()}
        try:
            request_json = json.loads(values.get("request", ""))
            error = json.loads(values["error"]) if values.get("error") else None
            outputs = json.loads(values["outputs"]) if values.get("outputs") else []
        except ValueError:
            raise _malformed() from None

        def number(name: str) -> float:
            return float(values.get(name) or 0)

        return cls(request=Request.from_dict(request_json), status=values.get("status", QUEUED),
                   created_at=number("created_at"), progress_done=int(number("progress_done")),
                   progress_total=int(number("progress_total")), attempts=int(number("attempts")),
                   error=Problem.from_dict(error) if isinstance(error, Mapping) else None,
                   worker=values.get("worker", ""), started_at=number("started_at"),
                   finished_at=number("finished_at"), outputs=tuple(str(i) for i in outputs))


@dataclass(frozen=True)
class PartialText:
    """One generation of a running submission as its page streams it: `Keys.partial(submission id)`, a JSON
    list written by the worker at its progress pace. `done`: this generation has ended (its card is
    complete) while others of the submission may still run."""

    index: int   # the item it answers
    text: str    # the continuation so far, special tokens skipped
    tokens: int  # tokens generated so far
    done: bool = False

    def to_dict(self) -> JSON:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> PartialText:
        if not isinstance(data, Mapping):
            raise _malformed()
        return cls(index=_int(data, "index"), text=_str(data, "text", ""), tokens=_int(data, "tokens", 0),
                   done=bool(data.get("done", False)))


@dataclass(frozen=True)
class Progress:
    """What a student's page shows of a submission while it waits (`shared.services.progress.progress`)."""

    status: str
    done: int                  # tokens generated so far
    total: int                 # tokens it may generate
    attempts: int
    created_at: float
    finished_at: float = 0.0
    error: Problem | None = None
    position: int | None = None        # in the queue, from 1 (queued only)
    depth: int | None = None           # jobs in the queue (queued only)
    wait_seconds: float | None = None  # estimated, once a worker has measured its throughput
    request: Request | None = None     # what was asked (each streamed card's config and prompt)
    partial: tuple[PartialText, ...] = ()  # the text so far of each generation (running or checking)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


@dataclass(frozen=True)
class TokenStep:
    """One generated token as the token view shows it."""

    text: str
    logprob: float
    p: float | None = None  # its probability under the config (what it was sampled from)
    model: tuple[tuple[str, float], ...] = ()    # the model's own top 5 (text, probability), before the config
    sampled: tuple[tuple[str, float], ...] = ()  # the top 5 after the config (what sampling chose among)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TokenStep:
        return cls(text=str(data.get("text", "")), logprob=float(data.get("logprob", 0.0)), p=data.get("p"),
                   model=tuple((str(t), float(p)) for t, p in data.get("model") or ()),
                   sampled=tuple((str(t), float(p)) for t, p in data.get("sampled") or ()))


@dataclass(frozen=True)
class TokenDetails:
    """Everything the token view needs of one output: `Keys.token_details(output id)`."""

    token_ids: tuple[int, ...]
    logprobs: tuple[float, ...]
    finish_reason: str
    steps: tuple[TokenStep, ...] = ()

    def to_dict(self) -> JSON:
        return {"token_ids": list(self.token_ids), "logprobs": list(self.logprobs),
                "finish_reason": self.finish_reason,
                "steps": [{**asdict(s), "model": [list(m) for m in s.model], "sampled": [list(m) for m in s.sampled]}
                          for s in self.steps]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TokenDetails:
        return cls(token_ids=tuple(data.get("token_ids") or ()), logprobs=tuple(data.get("logprobs") or ()),
                   finish_reason=str(data.get("finish_reason", "")),
                   steps=tuple(TokenStep.from_dict(s) for s in data.get("steps") or ()))


@dataclass(frozen=True)
class Provenance:
    """Where an output was generated: the worker's model and machine."""

    model: str
    device: str = ""
    dtype: str = ""
    host: str = ""
    random_weights: bool = False
    demo_model: bool = False
    torch: str = ""
    transformers: str = ""
    python: str = ""


@dataclass(frozen=True)
class Output:
    """One finished generation, as the gallery stores and shows it: `Keys.output(id)`."""

    id: str             # "{submission id}:{index}"
    submission_id: str
    index: int          # the item it answers
    class_code: str
    student_id: str
    student: str        # the label
    lab: str
    prompt: str
    variant: str
    text: str           # the continuation, special tokens skipped (the prompt is apart)
    token_ids: tuple[int, ...]
    config: DecodingConfig            # as the student asked
    effective_config: DecodingConfig  # as transformers runs it (sampling without top_k: top_k 50)
    group_key: str      # the gallery group: model, effective config (and variant in the ablation lab)
    label: str
    seed: int
    prompt_tokens: int
    new_tokens: int
    finish_reason: str  # "eos" or "length"
    created_at: float   # when the student pressed Run
    started_at: float
    finished_at: float
    generation_seconds: float
    worker: str
    provenance: Provenance
    metrics: Metrics = field(default_factory=dict)
    # check id -> result; the one field filled in place, by the worker's checks, before the output is stored
    checks: dict[str, CheckResult] = field(default_factory=dict)
    details_id: str = ""        # whose token details to read (the original's, for a cached copy)
    cached_from: str | None = None  # the output this one repeats, when answered from the cache

    @property
    def model(self) -> str:
        return self.provenance.model

    def to_dict(self) -> JSON:
        data = asdict(self)
        data["config"], data["effective_config"] = self.config.to_dict(), self.effective_config.to_dict()
        data["token_ids"] = packed_ids(self.token_ids)
        provenance = data.pop("provenance")
        return {**data, **provenance}  # flat, as stored since the first version

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Output:
        student = str(data.get("student", ""))
        return cls(
            id=data["id"], submission_id=data["submission_id"], index=int(data["index"]),
            class_code=data["class_code"], student_id=data.get("student_id") or student, student=student,
            lab=data["lab"], prompt=data["prompt"], variant=data.get("variant", ""), text=data["text"],
            token_ids=unpacked_ids(data.get("token_ids")),
            config=DecodingConfig(**data["config"]), effective_config=DecodingConfig(**data["effective_config"]),
            group_key=data["group_key"], label=data["label"], seed=int(data["seed"]),
            prompt_tokens=int(data.get("prompt_tokens", 0)), new_tokens=int(data["new_tokens"]),
            finish_reason=data.get("finish_reason", ""), created_at=float(data.get("created_at", 0)),
            started_at=float(data.get("started_at", 0)), finished_at=float(data["finished_at"]),
            generation_seconds=float(data.get("generation_seconds", 0)), worker=data.get("worker", ""),
            provenance=Provenance(model=data.get("model", ""), device=data.get("device", ""),
                                  dtype=data.get("dtype", ""), host=data.get("host", ""),
                                  random_weights=bool(data.get("random_weights", False)),
                                  demo_model=bool(data.get("demo_model", False)), torch=data.get("torch", ""),
                                  transformers=data.get("transformers", ""), python=data.get("python", "")),
            metrics=dict(data.get("metrics") or {}), checks=dict(data.get("checks") or {}),
            details_id=data.get("details_id") or data["id"], cached_from=data.get("cached_from"))

    def flat(self) -> JSON:
        """One flat row: who and what, the effective config's fields, the metrics, check id -> passed.
        The CSV/JSON export and `OutputStats` are both read from it."""
        return {"id": self.id, "student": self.student, "student_id": self.student_id, "lab": self.lab,
                "variant": self.variant, "model": self.model, "random_weights": self.provenance.random_weights,
                "prompt": self.prompt, "text": self.text, "group": self.group_key, **self.effective_config.to_dict(),
                "seed": self.seed, "tokens": self.new_tokens, "new_tokens": self.new_tokens,
                "finish_reason": self.finish_reason,
                **{name: self.metrics.get(name) for name in METRIC_COLUMNS},
                "loop": bool(self.metrics.get("loop")),
                "checks": {name: bool(result.get("passed")) for name, result in self.checks.items()},
                "cached_from": self.cached_from, "finished_at": self.finished_at}

    def stats(self) -> OutputStats:
        return OutputStats.of(self)


PACKED_IDS = "u16:"  # an Output's token ids as base64 of little-endian uint16 (a JSON list before)


def packed_ids(token_ids: tuple[int, ...]) -> str | list[int]:
    """Token ids as stored in an Output's JSON: 2.7 bytes each instead of ~7 as a list of numbers (a
    vocabulary past 65,536 ids stays a list)."""
    if any(not 0 <= token < 65536 for token in token_ids):
        return list(token_ids)
    return PACKED_IDS + base64.b64encode(struct.pack(f"<{len(token_ids)}H", *token_ids)).decode()


def unpacked_ids(stored: Any) -> tuple[int, ...]:
    """Read `packed_ids` back; a list (records stored before) is read as it is."""
    if isinstance(stored, str) and stored.startswith(PACKED_IDS):
        raw = base64.b64decode(stored[len(PACKED_IDS):])
        return tuple(struct.unpack(f"<{len(raw) // 2}H", raw))
    return tuple(stored or ())


@dataclass(frozen=True)
class OutputStats:
    """What summaries, charts and the CSV export need of one output, flat and small enough to read for a
    whole class at once: `Keys.stats(class)`, one JSON per output id."""

    group: str
    lab: str
    variant: str
    strategy: str
    temperature: float
    top_k: int | None
    top_p: float
    repetition_penalty: float
    tokens: int
    distinct_2: float | None
    loop: bool
    perplexity: float | None
    student: str
    checks: dict[str, bool]  # check id -> passed

    @classmethod
    def of(cls, output: Output) -> OutputStats:
        row = output.flat()
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})

    def to_dict(self) -> JSON:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OutputStats:
        return cls(**{**data, "checks": dict(data.get("checks") or {}), "loop": bool(data.get("loop"))})


@dataclass(frozen=True)
class ClassInfo:
    """A class as the instructor left it: `Keys.classes()`, a hash of class code -> this as JSON
    (services/classes writes it, services/roster changes its door). Stored before a field existed, the
    field reads as its default."""

    created_at: float
    open: bool                      # students may join and submit
    locked: bool = False            # no one new joins (those in stay in; rejoin codes still work)
    expected: int = 0               # joins stop at this many students; 0: no limit but the service's own
    closed_at: float | None = None  # when the instructor last closed it: retention counts from here

    def to_dict(self) -> JSON:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClassInfo:
        closed_at = data.get("closed_at")
        return cls(created_at=float(data.get("created_at") or 0), open=bool(data.get("open")),
                   locked=bool(data.get("locked")), expected=int(data.get("expected") or 0),
                   closed_at=float(closed_at) if closed_at else None)


@dataclass(frozen=True)
class StudentInfo:
    """A student of a class: `Keys.students(code)`, a hash of student id ("s17") -> this as JSON; moved to
    `Keys.removed_students(code)`, with `removed_at`, when the instructor removes them (services/roster)."""

    name: str                        # the display name as typed (cleaned)
    label: str                       # what others see: the name, numbered when a look-alike is taken
    joined_at: float
    rejoin: int = 0                  # generation of their rejoin code: a new code voids the ones before
    removed_at: float | None = None  # set once removed

    def to_dict(self) -> JSON:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StudentInfo:
        removed_at = data.get("removed_at")
        return cls(name=_str(data, "name", ""), label=_str(data, "label"), joined_at=_number(data, "joined_at", 0),
                   rejoin=int(data.get("rejoin") or 0), removed_at=float(removed_at) if removed_at else None)


@dataclass(frozen=True)
class WorkerInfo:
    """What a live worker announces every heartbeat: `Keys.worker(name)`, a JSON string that expires."""

    name: str
    model: str
    device: str = ""
    dtype: str = ""
    host: str = ""
    pid: int = 0
    random_weights: bool = False
    demo_model: bool = False
    tokens_per_s: float = 0.0  # moving average over its last busy heartbeats
    max_batch: int = 0
    in_flight: int = 0         # submissions it holds now
    seen_at: float = 0.0

    def consistent(self) -> WorkerInfo:
        """As of one moment: an idle worker still carries its last busy average, but generates nothing."""
        return self if self.in_flight else replace(self, tokens_per_s=0.0)

    def to_dict(self) -> JSON:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WorkerInfo:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})
