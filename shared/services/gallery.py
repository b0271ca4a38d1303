"""The class gallery: publishing a finished submission, its indexes, and queries over them.

`publish` stores a submission's outputs and indexes them in one transaction with its status change
(all writes idempotent, so a retried submission changes nothing). A query intersects the sorted sets of its filters (ZINTERSTORE, weight 0) with the set it
sorts by (weight 1) into a short-lived key, then reads one page: a class with 10,000 outputs is never
scanned whole. Only the text search reads outputs, page by page, up to `SEARCH_SCAN_LIMIT` of them.
The index keys are listed in `shared/contract/keys.py`.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from dataclasses import dataclass

from shared.contract.packed_tokens import PackedTokens
from shared.contract.records import Output, OutputStats, Request, TokenDetails
from shared.services.classes import student_records
from shared.services.store import Store

SORTS = ("newest", "stars", "perplexity", "distinct_2", "tokens")
SEARCH_SCAN_LIMIT = 2000   # outputs a text search reads at most, newest first
RESULT_TTL_SECONDS = 30    # life of an intersected query result


def prompt_hash(prompt: str) -> str:
    return hashlib.sha1(prompt.encode()).hexdigest()[:16]


def publish(store: Store, request: Request, outputs: list[Output],
            details: dict[str, TokenDetails | PackedTokens] | None = None,
            cache_keys: dict[str, str] | None = None, owner: tuple[str, int] | None = None) -> bool:
    """Store a finished submission's outputs (and token details, cache entries) and index every output
    in the class gallery, atomically with the submission's change to done. False, and nothing written,
    when its student cancelled it first: the cancel flags are watched, so a cancel that lands while this
    runs makes it look again (see `Store.request_cancel`). `owner`: (worker, attempt) that must still
    hold the submission, else False too: a worker cut off from Redis (or frozen) while its job was
    requeued and run again elsewhere publishes nothing when it comes back (the record is watched)."""
    code = request.class_code
    output_ids = [o.id for o in outputs]

    def write(pipe) -> bool:
        if pipe.sismember(store.keys.cancel(), request.id):
            return False
        if owner and store.holders([request.id])[0] != (*owner, True):
            return False
        hidden = pipe.smismember(store.keys.hidden(code), output_ids) if outputs else []
        pipe.multi()
        store.write_outputs(pipe, request, outputs, details or {}, cache_keys or {})
        for output, is_hidden in zip(outputs, hidden, strict=True):
            index_output(pipe, store, output, visible=not is_hidden)
        return True

    return store.redis.transaction(write, store.keys.cancel(), store.keys.submission(request.id),
                                   value_from_callable=True)


def index_output(pipe, store: Store, output: Output, visible: bool = True) -> None:
    keys, code, output_id, score = store.keys, output.class_code, output.id, output.finished_at
    pipe.zadd(keys.outputs(code), {output_id: score})
    pipe.hset(keys.groups(code), output.group_key, output.label)
    pipe.zadd(keys.index(code, "group", output.group_key), {output_id: score})
    if visible:
        pipe.zadd(keys.visible(code), {output_id: score})
    pipe.zadd(keys.index(code, "lab", output.lab), {output_id: score})
    pipe.zadd(keys.index(code, "student", output.student_id), {output_id: score})
    digest = prompt_hash(output.prompt)
    pipe.zadd(keys.index(code, "prompt", digest), {output_id: score})
    pipe.hset(keys.prompts(code), digest, output.prompt[:300])
    for metric in ("perplexity", "distinct_2"):
        value = output.metrics.get(metric)
        if value is not None:
            pipe.zadd(keys.index(code, "sort", metric), {output_id: value})
    pipe.zadd(keys.index(code, "sort", "tokens"), {output_id: output.new_tokens})
    pipe.hset(keys.stats(code), output_id, json.dumps(output.stats().to_dict()))


@dataclass(frozen=True)
class GalleryQuery:
    lab: str = ""
    prompt: str = ""        # a prompt hash
    group: str = ""
    student: str = ""
    starred_only: bool = False
    search: str = ""
    sort: str = "newest"
    descending: bool = True
    offset: int = 0
    limit: int = 20


def query(store: Store, code: str, q: GalleryQuery, include_hidden: bool = False) -> tuple[list[Output], int]:
    """One page of outputs matching `q`, and how many match (before the text search)."""
    keys = store.keys
    filters = [keys.outputs(code) if include_hidden else keys.visible(code)]
    filters += [keys.index(code, "lab", q.lab)] if q.lab else []
    filters += [keys.index(code, "prompt", q.prompt)] if q.prompt else []
    filters += [keys.index(code, "group", q.group)] if q.group else []
    filters += [keys.index(code, "student", q.student)] if q.student else []
    filters += [keys.starred(code)] if q.starred_only else []
    order = {"newest": keys.outputs(code), "stars": keys.starred(code)}.get(q.sort) or keys.index(code, "sort", q.sort)
    digest = hashlib.sha1(json.dumps([filters, order]).encode()).hexdigest()[:20]
    result = keys.query(code, digest)
    with store.redis.pipeline() as pipe:
        pipe.zinterstore(result, {name: 0 for name in filters} | {order: 1})
        pipe.expire(result, RESULT_TTL_SECONDS)
        total = pipe.execute()[0]
    read = store.redis.zrevrange if q.descending else store.redis.zrange
    if not q.search:
        ids = [i.decode() for i in read(result, q.offset, q.offset + q.limit - 1)]
        return store.outputs(ids), total
    return _search(store, result, read, q), total


def _search(store: Store, result: str, read, q: GalleryQuery) -> list[Output]:
    needle, found, skipped, start = q.search.lower(), [], 0, 0
    while start < SEARCH_SCAN_LIMIT and len(found) < q.limit:
        ids = [i.decode() for i in read(result, start, start + 199)]
        if not ids:
            break
        for output in store.outputs(ids):
            if needle in output.text.lower() or needle in output.prompt.lower():
                if skipped < q.offset:
                    skipped += 1
                elif len(found) < q.limit:
                    found.append(output)
        start += 200
    return found


def class_version(store: Store, code: str) -> tuple[int, int, int]:
    """Cheap fingerprint of what the gallery shows: outputs, hidden ones, stars (three O(1) reads)."""
    with store.redis.pipeline(transaction=False) as pipe:
        pipe.zcard(store.keys.outputs(code))
        pipe.scard(store.keys.hidden(code))
        pipe.zcard(store.keys.starred(code))
        outputs, hidden, starred = pipe.execute()
    return outputs, hidden, starred


def class_stats(store: Store, code: str, include_hidden: bool = False) -> dict[str, OutputStats]:
    raw = store.redis.hgetall(store.keys.stats(code))
    stats = {k.decode(): OutputStats.from_dict(json.loads(v)) for k, v in raw.items()}
    if not include_hidden:
        hidden = {h.decode() for h in store.redis.smembers(store.keys.hidden(code))}
        stats = {k: v for k, v in stats.items() if k not in hidden}
    return stats


@dataclass(frozen=True)
class GroupSummary:
    """One effective configuration's outputs, summed up for the gallery's groups table."""

    key: str                     # the group key (`Output.group_key`)
    label: str                   # readable: it names the variant and the configuration
    count: int                   # outputs in the group
    median_tokens: float
    distinct_2: float | None     # mean over the outputs that have one; None when none has
    loop_rate: float             # share of outputs that fell into a loop
    checks: dict[str, float]     # check id -> share of outputs that passed it


def group_summaries(store: Store, code: str, stats: dict[str, OutputStats], lab: str = "") -> list[GroupSummary]:
    """Per effective configuration: count, median length, mean distinct-2, loop rate, check pass rates."""
    labels = {k.decode(): v.decode() for k, v in store.redis.hgetall(store.keys.groups(code)).items()}
    by_group: dict[str, list[OutputStats]] = {}
    for row in stats.values():
        if not lab or row.lab == lab:
            by_group.setdefault(row.group, []).append(row)
    summaries = []
    for group, rows in by_group.items():
        distinct = [r.distinct_2 for r in rows if r.distinct_2 is not None]
        checks: dict[str, list[bool]] = {}
        for r in rows:
            for name, passed in r.checks.items():
                checks.setdefault(name, []).append(passed)
        summaries.append(GroupSummary(key=group, label=labels.get(group, group), count=len(rows),
                                      median_tokens=statistics.median(r.tokens for r in rows),
                                      distinct_2=round(statistics.mean(distinct), 3) if distinct else None,
                                      loop_rate=round(sum(r.loop for r in rows) / len(rows), 3),
                                      checks={n: round(sum(v) / len(v), 3) for n, v in checks.items()}))
    return sorted(summaries, key=lambda s: s.count, reverse=True)


def class_prompts(store: Store, code: str, include_hidden: bool = False, lab: str = "") -> dict[str, str]:
    """Prompt hash -> prompt text, for the prompt filter, in reading order; students see only prompts of
    visible outputs; `lab`: only prompts run in that lab."""
    prompts = {k.decode(): v.decode() for k, v in store.redis.hgetall(store.keys.prompts(code)).items()}
    return _sorted(_with_outputs(store, code, prompts, "prompt", include_hidden, lab))


def class_groups(store: Store, code: str, include_hidden: bool = False, lab: str = "") -> dict[str, str]:
    """Group key -> readable label (it names the variant), for the configuration filter, in reading order;
    students see only groups with a visible output; `lab`: only groups of that lab."""
    groups = {k.decode(): v.decode() for k, v in store.redis.hgetall(store.keys.groups(code)).items()}
    return _sorted(_with_outputs(store, code, groups, "group", include_hidden, lab))


def _sorted(entries: dict[str, str]) -> dict[str, str]:
    return dict(sorted(entries.items(), key=lambda item: item[1].casefold()))


def _with_outputs(store: Store, code: str, entries: dict[str, str], index: str, include_hidden: bool,
                  lab: str = "") -> dict:
    """`entries` (index key -> label) whose index holds at least one output a student may see (any, for
    the instructor), of `lab` when one is given."""
    scopes = ([] if include_hidden else [store.keys.visible(code)]) + ([store.keys.index(code, "lab", lab)] if lab else [])
    if not scopes or not entries:
        return entries
    with store.redis.pipeline(transaction=False) as pipe:
        for key in entries:
            pipe.zintercard(len(scopes) + 1, [*scopes, store.keys.index(code, index, key)], limit=1)
        counts = pipe.execute()
    return {key: label for (key, label), count in zip(entries.items(), counts) if count}


def class_students(store: Store, code: str) -> dict[str, str]:
    """Label -> student id, for the gallery's "by student" filter (two Marías are "María", "María · 2")."""
    return {row.label: student_id for student_id, row in student_records(store, code).items()}


def groups_differing_from_greedy(store: Store, code: str, prompt: str, include_hidden: bool = False) -> set[str]:
    """Groups (of one prompt) with an output whose text differs from every greedy output of that prompt."""
    outputs, _ = query(store, code, GalleryQuery(prompt=prompt, limit=500), include_hidden)
    greedy = {o.text for o in outputs if o.effective_config.strategy == "greedy"}
    return {o.group_key for o in outputs if o.text not in greedy} if greedy else set()


def diff_pieces(left: str, right: str) -> list[tuple[str, str]]:
    """Word-level diff as (kind, words) pieces in reading order; kind is "same", "removed" (only in
    `left`) or "added" (only in `right`)."""
    import difflib

    a, b = left.split(), right.split()
    pieces = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            pieces.append(("same", " ".join(a[i1:i2])))
        if op in ("delete", "replace"):
            pieces.append(("removed", " ".join(a[i1:i2])))
        if op in ("insert", "replace"):
            pieces.append(("added", " ".join(b[j1:j2])))
    return pieces


def word_diff(left: str, right: str) -> str:
    """Word-level diff as plain text: [-removed-] {+added+}, unchanged words as they are."""
    marks = {"same": "{}", "removed": "[-{}-]", "added": "{{+{}+}}"}
    return " ".join(marks[kind].format(words) for kind, words in diff_pieces(left, right))


def stats_matching(store: Store, code: str, stats: dict[str, OutputStats], q: GalleryQuery) -> dict[str, OutputStats]:
    """The outputs of `stats` that the gallery's filters keep (lab, prompt, configuration, student,
    starred), so the groups and the charts describe what the filters show. The text search is left out:
    it reads outputs, and charts of a few matches teach nothing."""
    keep = {k: v for k, v in stats.items()
            if (not q.lab or v.lab == q.lab) and (not q.group or v.group == q.group)}
    indexes = [store.keys.index(code, "prompt", q.prompt)] if q.prompt else []
    indexes += [store.keys.index(code, "student", q.student)] if q.student else []  # by id, as the query
    indexes += [store.keys.starred(code)] if q.starred_only else []
    for index in indexes:
        members = {i.decode() for i in store.redis.zrange(index, 0, -1)}
        keep = {k: v for k, v in keep.items() if k in members}
    return keep


def repetition_by(stats: list[OutputStats], knob: str) -> list[dict]:
    """Per value of `knob` (a field of OutputStats): mean distinct-2, loop rate and how many outputs."""
    by_value: dict[float, list[OutputStats]] = {}
    for s in stats:
        by_value.setdefault(getattr(s, knob), []).append(s)
    return [{knob: value, "distinct_2": statistics.mean([r.distinct_2 or 0 for r in rows]),
             "loop_rate": sum(r.loop for r in rows) / len(rows), "outputs": len(rows)}
            for value, rows in sorted(by_value.items())]


@dataclass(frozen=True)
class ChartData:
    """The class's own data for the gallery's three charts, each a list of rows (one a point or a bar)."""

    temperature: list[dict]  # by temperature (sampling outputs): temperature, distinct_2, loop_rate, outputs
    penalty: list[dict]      # by repetition penalty (decoding lab): repetition_penalty, distinct_2, loop_rate, outputs
    checks: list[dict]       # by prompt variant and check (ablation lab): variant, check, rate, outputs


def chart_rows(stats: dict[str, OutputStats]) -> ChartData:
    """The class's own data for the gallery's charts."""
    sampling = [s for s in stats.values() if s.strategy == "sampling" and s.lab == "decoding"]
    decoding = [s for s in stats.values() if s.lab == "decoding"]
    # What each knob changes: diversity (distinct-2) and repetition (loop rate), by its value. Length is
    # no measure of the penalty: with max_new_tokens fixed, nearly every output is as long as allowed.
    temperature = repetition_by(sampling, "temperature")
    penalty = repetition_by(decoding, "repetition_penalty")
    cells: dict[tuple[str, str], list[bool]] = {}
    for s in stats.values():
        if s.lab == "ablation":
            for check, passed in s.checks.items():
                cells.setdefault((s.variant, check), []).append(passed)
    checks = [{"variant": v, "check": c, "rate": sum(p) / len(p), "outputs": len(p)} for (v, c), p in cells.items()]
    return ChartData(temperature=temperature, penalty=penalty, checks=checks)
