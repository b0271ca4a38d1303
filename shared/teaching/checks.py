"""Instruction checks: does an output do what one instruction of the prompt asked? Pure functions.

Each check returns a `CheckResult`: passed, and why, as a translation key with its parameters (plus
the English text in `detail`, for readers that predate the key). `run_checks` runs the checks a
request lists on one output; the worker stores the results with the output so the effect matrix and
the gallery count them without recomputing. `check_detail` says why in the reader's language.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from shared.contract.i18n import t
from shared.teaching.metrics import ngrams, words
from shared.teaching.pattern_sandbox import (
    BAD_PATTERN,
    BUSY,
    COMPILED,
    TOO_BIG,
    ChildSlots,
    PatternRun,
    validate_pattern,
)

BULLET = re.compile(r"^\s*(?:[-*•·●▪‣]|\d+[.)])\s+\S")
EXAMPLE_MARKERS = ("for example", "for instance", "e.g.", "such as", "as an example", "por ejemplo")
# A number counts as an example only in context: followed by a unit or a noun ("3 hours", "40%", "10 teams")
# or preceded by a currency sign. A bare digit in noise ("x 7 ) 3") is not an example.
NUMBER_IN_CONTEXT = re.compile(r"(?<![\w.,])(?:[$€£]\s?\d[\d.,]*|\d[\d.,]*\s?(?:%|[a-záéíóúñ]{3,}\b))", re.I)
DEFAULT_JARGON = ("api", "pipeline", "repository", "repo", "commit", "merge", "branch", "ci/cd", "framework",
                  "deploy", "deployment", "versioning", "artifact", "workflow", "backend", "latency", "scalability")
STOPWORDS = frozenset("a an and are as at be by for from how in into is it of on or the their this to using "
                      "what with your".split())
MAX_PATTERN_CHARS = 200
MAX_JARGON_TERMS = 50
ECHO_SHARE = 0.5  # an output whose 3-grams come mostly from the prompt merely repeats it


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    key: str = ""                                 # i18n key saying why, e.g. "checkdetail.words"
    params: dict = field(default_factory=dict)    # its parameters: JSON values only (stored with the output)

    @property
    def detail(self) -> str:
        """Why, in English: what stored results carried before the key (and what logs show)."""
        return t(self.key, "en", **self.params)

    def to_dict(self) -> dict:
        return {"passed": self.passed, "detail": self.detail, "key": self.key, "params": self.params}


# Python's JSON parser explains itself in English: each reason it gives, as the table names it.
JSON_REASONS = {"Expecting value": "jsonreason.value", "Expecting ',' delimiter": "jsonreason.comma",
                "Expecting ':' delimiter": "jsonreason.colon", "Extra data": "jsonreason.extra",
                "Expecting property name enclosed in double quotes": "jsonreason.name",
                "Unterminated string starting at": "jsonreason.unterminated",
                "Invalid control character at": "jsonreason.control", "Invalid \\escape": "jsonreason.escape"}


def check_detail(result: dict, lang: str) -> str:
    """A stored check result's reason in `lang`; results stored before keys existed keep their English."""
    if result.get("key"):
        params = dict(result.get("params") or {})
        if "msg" in params:  # the JSON parser's reason, in the reader's language
            params["msg"] = t(JSON_REASONS.get(str(params["msg"]), "jsonreason.other"), lang)
        return t(result["key"], lang, **params)
    return str(result.get("detail", ""))


def three_bullets_at_end(text: str) -> CheckResult:
    """The output ends with exactly three bullet (or numbered) lines."""
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    count = 0
    for line in reversed(lines):
        if not BULLET.match(line):
            break
        count += 1
    return CheckResult(count == 3, "checkdetail.bullets", {"count": count})


def valid_json(text: str) -> CheckResult:
    """The output is JSON (a fenced ```json block is accepted); says where parsing fails."""
    body = (text or "").strip()
    fenced = re.search(r"```(?:json)?\s*(.*?)```", body, re.S)
    if fenced:
        body = fenced.group(1).strip()
    try:
        json.loads(body)
        return CheckResult(True, "checkdetail.json_ok")
    except json.JSONDecodeError as error:
        around = body[max(0, error.pos - 15): error.pos + 15].replace("\n", " ")
        return CheckResult(False, "checkdetail.json_error", {"msg": error.msg, "line": error.lineno,
                                                              "column": error.colno, "around": around})
    except RecursionError:  # ~1,000 nested brackets: the parser's own limit, still a clear answer
        return CheckResult(False, "checkdetail.json_deep")


def no_jargon(text: str, jargon: tuple[str, ...] = DEFAULT_JARGON) -> CheckResult:
    found = sorted({term for term in jargon if re.search(rf"(?<!\w){re.escape(term)}(?!\w)", text or "", re.I)})
    if found:
        return CheckResult(False, "checkdetail.jargon", {"terms": ", ".join(found)})
    return CheckResult(True, "checkdetail.no_jargon")


def has_example(text: str) -> CheckResult:
    """A concrete-example marker ('for example', 'e.g.', 'such as'...) or a number in context."""
    lowered = (text or "").lower()
    markers = [m for m in EXAMPLE_MARKERS if m in lowered]
    if markers:
        return CheckResult(True, "checkdetail.example_marker", {"markers": ", ".join(markers)})
    number = next((m.group(0) for m in NUMBER_IN_CONTEXT.finditer(text or "") if _counts_something(m.group(0))), None)
    if number:
        return CheckResult(True, "checkdetail.example_number", {"found": number})
    return CheckResult(False, "checkdetail.no_example")


def _counts_something(number: str) -> bool:
    """'3 hours' counts something; '3 the' does not (the word after it is a stopword)."""
    unit = re.sub(r"[\d.,\s$€£]", "", number).lower()
    return unit not in STOPWORDS


def word_limit(text: str, max_words: int) -> CheckResult:
    count = len(words(text))
    return CheckResult(count <= max_words, "checkdetail.words", {"count": count, "limit": max_words})


def topic_words(text: str, topic: str) -> CheckResult:
    """Mentions at least half of the topic's key words."""
    keys = sorted({w for w in words(topic) if w not in STOPWORDS and len(w) > 2})
    present = set(words(text))
    hits = [k for k in keys if k in present]
    passed = bool(keys) and len(hits) * 2 >= len(keys)
    if not keys:
        return CheckResult(False, "checkdetail.topic_empty")
    counts = {"found": len(hits), "total": len(keys)}
    if not hits:  # say which words were looked for, not an empty list
        return CheckResult(False, "checkdetail.topic_none", {**counts, "words": ", ".join(keys)})
    return CheckResult(passed, "checkdetail.topic", {**counts, "words": ", ".join(hits)})


def not_an_echo(text: str, prompt: str) -> CheckResult:
    """Passes unless the output merely repeats the prompt (most of its 3-grams come from it)."""
    output_grams = ngrams(words(text), 3)
    if not output_grams:
        return CheckResult(False, "checkdetail.empty")
    prompt_grams = set(ngrams(words(prompt), 3))
    share = sum(g in prompt_grams for g in output_grams) / len(output_grams)
    return CheckResult(share < ECHO_SHARE, "checkdetail.echo", {"share": round(100 * share)})


def custom(text: str, kind: str, pattern: str) -> CheckResult:
    """The student's own check: `contains` (case-insensitive) or `regex` (run in a sandboxed child)."""
    if kind == "contains":
        found = pattern.lower() in (text or "").lower()
        return CheckResult(found, "checkdetail.contains" if found else "checkdetail.lacks", {"pattern": pattern})
    run = PatternRun(pattern, [text or ""]).wait()
    return regex_result(run, 0)


def regex_result(run: PatternRun, index: int) -> CheckResult:
    """The custom regex check of text number `index` of a finished `PatternRun`."""
    if run.status == BAD_PATTERN:
        return CheckResult(False, "checkdetail.bad_pattern")
    if run.status != COMPILED or index >= len(run.matches) or run.matches[index] == PatternRun.TIMED_OUT:
        return CheckResult(False, "checkdetail.slow_pattern")
    found = run.matches[index]
    if found is None:
        return CheckResult(False, "checkdetail.no_match")
    return CheckResult(True, "checkdetail.matched", {"found": found})


def check_shape_problem(spec) -> str | None:
    """None when a check spec from a request is well formed (cheap: compiles nothing), else the problem."""
    if not isinstance(spec, dict) or spec.get("id") not in CHECKS:
        return "bad_custom_check"
    if spec["id"] == "custom":
        kind, pattern = spec.get("kind"), spec.get("pattern")
        if kind not in ("contains", "regex") or not isinstance(pattern, str) or not pattern \
                or len(pattern) > MAX_PATTERN_CHARS:
            return "bad_custom_check"
    if spec["id"] == "word_limit" and not (type(spec.get("max_words")) is int and 1 <= spec["max_words"] <= 1000):
        return "bad_custom_check"
    jargon = spec.get("jargon")
    if jargon is not None and not (isinstance(jargon, list) and len(jargon) <= MAX_JARGON_TERMS
                                   and all(isinstance(term, str) and 0 < len(term) <= 60 for term in jargon)):
        return "bad_custom_check"
    return None


PATTERN_PROBLEMS = {BAD_PATTERN: "bad_custom_check", TOO_BIG: "custom_check_too_costly", BUSY: "sandbox_busy"}


def validate_custom(kind: str, pattern: str, slots: ChildSlots | None = None) -> str | None:
    """None when a student's custom check is usable, else the reason. A regex is compiled in a sandboxed
    child (shared/teaching/pattern_sandbox.py), never in this process; with `slots`, only when one of
    the process's children is free ("sandbox_busy" when none came free in time)."""
    shape = check_shape_problem({"id": "custom", "kind": kind, "pattern": pattern})
    if shape or kind != "regex":
        return shape
    status = validate_pattern(pattern, slots=slots)
    return PATTERN_PROBLEMS.get(status)


# check id -> the instruction it tests (a key of the ablation's instruction library, or a part).
CHECKS = {
    "three_bullets": "summary",
    "valid_json": "json",
    "no_jargon": "jargon",
    "has_example": "examples",
    "word_limit": "words",
    "topic_words": "topic",
    "not_an_echo": "topic",
    "custom": "custom",
}


def run_check(spec: dict, text: str, prompt: str, topic: str) -> CheckResult:
    name = spec["id"]
    if name == "three_bullets":
        return three_bullets_at_end(text)
    if name == "valid_json":
        return valid_json(text)
    if name == "no_jargon":
        return no_jargon(text, tuple(spec.get("jargon") or DEFAULT_JARGON))
    if name == "has_example":
        return has_example(text)
    if name == "word_limit":
        return word_limit(text, int(spec["max_words"]))
    if name == "topic_words":
        return topic_words(text, topic)
    if name == "not_an_echo":
        return not_an_echo(text, prompt)
    if name == "custom":
        return custom(text, spec["kind"], spec["pattern"])
    raise ValueError(f"unknown check {name!r}")


def safe_check(spec: dict, text: str, prompt: str, topic: str) -> CheckResult:
    """`run_check` that never raises: a check that breaks on some input says so and fails."""
    try:
        return run_check(spec, text, prompt, topic)
    except Exception as error:  # noqa: BLE001 - one odd output must not take its submission down
        return CheckResult(False, "checkdetail.broken", {"error": type(error).__name__})


def run_checks(specs: list[dict], text: str, prompt: str, topic: str) -> dict[str, dict]:
    return {spec["id"]: safe_check(spec, text, prompt, topic).to_dict() for spec in specs}
