"""The class gallery's indexes and queries: filters, sorting and pages read from Redis sorted sets.

Every output is indexed when it is stored (all writes idempotent, so a retried submission changes
nothing). A query intersects the sorted sets of its filters (ZINTERSTORE, weight 0) with the set it
sorts by (weight 1) into a short-lived key, then reads one page: a class with 10,000 outputs is never
scanned whole. Only the text search reads outputs, page by page, up to `SEARCH_SCAN_LIMIT` of them.

    {p}:class:{code}:visible          zset  outputs students may see (hidden ones removed), by time
    {p}:class:{code}:lab:{lab}        zset  by lab
    {p}:class:{code}:student:{name}   zset  by student
    {p}:class:{code}:prompt:{hash}    zset  by prompt; {p}:class:{code}:prompts hash -> the prompt text
    {p}:class:{code}:sort:{metric}    zset  scored by a metric (perplexity, distinct_2, tokens)
    {p}:class:{code}:starred          zset  starred by the instructor, by star time
    {p}:class:{code}:stats            hash  output id -> compact JSON for summaries and charts
"""

from __future__ import annotations

import hashlib
import json
import statistics
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the store imports this module to index what it stores
    from shared.store import Store

SORTS = ("newest", "stars", "perplexity", "distinct_2", "tokens")
SEARCH_SCAN_LIMIT = 2000   # outputs a text search reads at most, newest first
RESULT_TTL_SECONDS = 30    # life of an intersected query result


def prompt_hash(prompt: str) -> str:
    return hashlib.sha1(prompt.encode()).hexdigest()[:16]


def stats_of(output: dict) -> dict:
    """What summaries and charts need of one output, small enough to read for a whole class at once."""
    config, metrics = output["effective_config"], output.get("metrics") or {}
    return {"group": output["group_key"], "lab": output["lab"], "variant": output.get("variant", ""),
            "strategy": config.get("strategy"), "temperature": config.get("temperature"),
            "top_k": config.get("top_k"), "top_p": config.get("top_p"),
            "repetition_penalty": config.get("repetition_penalty"), "tokens": output["new_tokens"],
            "distinct_2": metrics.get("distinct_2"), "loop": metrics.get("loop"),
            "perplexity": metrics.get("perplexity"), "student": output["student"],
            "checks": {k: v["passed"] for k, v in (output.get("checks") or {}).items()}}


def index_output(pipe, store: Store, output: dict, visible: bool = True) -> None:
    code, output_id, score = output["class_code"], output["id"], output["finished_at"]
    key = lambda *parts: store.class_key(code, *parts)  # noqa: E731
    if visible:
        pipe.zadd(key("visible"), {output_id: score})
    pipe.zadd(key("lab", output["lab"]), {output_id: score})
    pipe.zadd(key("student", output.get("student_id") or output["student"]), {output_id: score})
    digest = prompt_hash(output["prompt"])
    pipe.zadd(key("prompt", digest), {output_id: score})
    pipe.hset(key("prompts"), digest, output["prompt"][:300])
    for metric in ("perplexity", "distinct_2"):
        value = (output.get("metrics") or {}).get(metric)
        if value is not None:
            pipe.zadd(key("sort", metric), {output_id: value})
    pipe.zadd(key("sort", "tokens"), {output_id: output["new_tokens"]})
    pipe.hset(key("stats"), output_id, json.dumps(stats_of(output)))


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


def query(store: Store, code: str, q: GalleryQuery, include_hidden: bool = False) -> tuple[list[dict], int]:
    """One page of outputs matching `q`, and how many match (before the text search)."""
    key = lambda *parts: store.class_key(code, *parts)  # noqa: E731
    filters = [key("outputs") if include_hidden else key("visible")]
    filters += [key("lab", q.lab)] if q.lab else []
    filters += [key("prompt", q.prompt)] if q.prompt else []
    filters += [key("group", q.group)] if q.group else []
    filters += [key("student", q.student)] if q.student else []
    filters += [key("starred")] if q.starred_only else []
    order = {"newest": key("outputs"), "stars": key("starred")}.get(q.sort, key("sort", q.sort))
    digest = hashlib.sha1(json.dumps([filters, order]).encode()).hexdigest()[:20]
    result = key("query", digest)
    with store.redis.pipeline() as pipe:
        pipe.zinterstore(result, {name: 0 for name in filters} | {order: 1})
        pipe.expire(result, RESULT_TTL_SECONDS)
        total = pipe.execute()[0]
    read = store.redis.zrevrange if q.descending else store.redis.zrange
    if not q.search:
        ids = [i.decode() for i in read(result, q.offset, q.offset + q.limit - 1)]
        return store.outputs(ids), total
    return _search(store, result, read, q), total


def _search(store: Store, result: str, read, q: GalleryQuery) -> list[dict]:
    needle, found, skipped, start = q.search.lower(), [], 0, 0
    while start < SEARCH_SCAN_LIMIT and len(found) < q.limit:
        ids = [i.decode() for i in read(result, start, start + 199)]
        if not ids:
            break
        for output in store.outputs(ids):
            if needle in output["text"].lower() or needle in output["prompt"].lower():
                if skipped < q.offset:
                    skipped += 1
                elif len(found) < q.limit:
                    found.append(output)
        start += 200
    return found


def class_stats(store: Store, code: str, include_hidden: bool = False) -> dict[str, dict]:
    raw = store.redis.hgetall(store.class_key(code, "stats"))
    stats = {k.decode(): json.loads(v) for k, v in raw.items()}
    if not include_hidden:
        hidden = {h.decode() for h in store.redis.smembers(store.class_key(code, "hidden"))}
        stats = {k: v for k, v in stats.items() if k not in hidden}
    return stats


def group_summaries(store: Store, code: str, stats: dict[str, dict], lab: str = "") -> list[dict]:
    """Per effective configuration: count, median length, mean distinct-2, loop rate, check pass rates."""
    labels = {k.decode(): v.decode() for k, v in store.redis.hgetall(store.class_key(code, "groups")).items()}
    by_group: dict[str, list[dict]] = {}
    for row in stats.values():
        if not lab or row["lab"] == lab:
            by_group.setdefault(row["group"], []).append(row)
    summaries = []
    for group, rows in by_group.items():
        distinct = [r["distinct_2"] for r in rows if r["distinct_2"] is not None]
        checks: dict[str, list[bool]] = {}
        for r in rows:
            for name, passed in r["checks"].items():
                checks.setdefault(name, []).append(passed)
        summaries.append({"key": group, "label": labels.get(group, group), "count": len(rows),
                          "median_tokens": statistics.median(r["tokens"] for r in rows),
                          "distinct_2": round(statistics.mean(distinct), 3) if distinct else None,
                          "loop_rate": round(sum(bool(r["loop"]) for r in rows) / len(rows), 3),
                          "checks": {n: round(sum(v) / len(v), 3) for n, v in checks.items()}})
    return sorted(summaries, key=lambda s: s["count"], reverse=True)


def class_prompts(store: Store, code: str, include_hidden: bool = False) -> dict[str, str]:
    """Prompt hash -> prompt text, for the prompt filter; students see only prompts of visible outputs."""
    prompts = {k.decode(): v.decode() for k, v in store.redis.hgetall(store.class_key(code, "prompts")).items()}
    return _with_visible(store, code, prompts, "prompt", include_hidden)


def class_groups(store: Store, code: str, include_hidden: bool = False) -> dict[str, str]:
    """Group key -> readable label (it names the variant), for the configuration filter; students see
    only groups with a visible output."""
    groups = {k.decode(): v.decode() for k, v in store.redis.hgetall(store.class_key(code, "groups")).items()}
    return _with_visible(store, code, groups, "group", include_hidden)


def _with_visible(store: Store, code: str, entries: dict[str, str], index: str, include_hidden: bool) -> dict:
    """`entries` (index key -> label) whose index holds at least one output a student may see."""
    if include_hidden or not entries:
        return entries
    visible = store.class_key(code, "visible")
    with store.redis.pipeline(transaction=False) as pipe:
        for key in entries:
            pipe.zintercard(2, [visible, store.class_key(code, index, key)], limit=1)
        counts = pipe.execute()
    return {key: label for (key, label), count in zip(entries.items(), counts) if count}


def class_students(store: Store, code: str) -> dict[str, str]:
    """Label -> student id, for the gallery's "by student" filter (two Marías are "María", "María · 2")."""
    rows = [json.loads(v) | {"id": k.decode()} for k, v in store.redis.hgetall(store.class_key(code, "students")).items()]
    return {row["label"]: row["id"] for row in sorted(rows, key=lambda r: r["joined_at"])}


def as_dict(q: GalleryQuery) -> dict:
    return asdict(q)


def groups_differing_from_greedy(store: Store, code: str, prompt: str, include_hidden: bool = False) -> set[str]:
    """Groups (of one prompt) with an output whose text differs from every greedy output of that prompt."""
    outputs, _ = query(store, code, GalleryQuery(prompt=prompt, limit=500), include_hidden)
    greedy = {o["text"] for o in outputs if o["effective_config"]["strategy"] == "greedy"}
    return {o["group_key"] for o in outputs if o["text"] not in greedy} if greedy else set()


def word_diff(left: str, right: str) -> str:
    """Word-level diff as plain text: [-removed-] {+added+}, unchanged words as they are."""
    import difflib

    a, b = left.split(), right.split()
    pieces = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            pieces.append(" ".join(a[i1:i2]))
        if op in ("delete", "replace"):
            pieces.append("[-" + " ".join(a[i1:i2]) + "-]")
        if op in ("insert", "replace"):
            pieces.append("{+" + " ".join(b[j1:j2]) + "+}")
    return " ".join(pieces)


def chart_rows(stats: dict[str, dict]) -> dict[str, list[dict]]:
    """The class's own data for the gallery's charts."""
    sampling = [s for s in stats.values() if s["strategy"] == "sampling" and s["lab"] == "decoding"]
    by_temperature: dict[float, list[dict]] = {}
    for s in sampling:
        by_temperature.setdefault(s["temperature"], []).append(s)
    temperature = [{"temperature": t, "distinct_2": statistics.mean([r["distinct_2"] or 0 for r in rows]),
                    "loop_rate": sum(bool(r["loop"]) for r in rows) / len(rows), "outputs": len(rows)}
                   for t, rows in sorted(by_temperature.items())]
    by_penalty: dict[float, list[int]] = {}
    for s in stats.values():
        if s["lab"] == "decoding":
            by_penalty.setdefault(s["repetition_penalty"], []).append(s["tokens"])
    penalty = [{"repetition_penalty": r, "tokens": statistics.median(v), "outputs": len(v)}
               for r, v in sorted(by_penalty.items())]
    cells: dict[tuple[str, str], list[bool]] = {}
    for s in stats.values():
        if s["lab"] == "ablation":
            for check, passed in s["checks"].items():
                cells.setdefault((s["variant"], check), []).append(passed)
    checks = [{"variant": v, "check": c, "rate": sum(p) / len(p), "outputs": len(p)} for (v, c), p in cells.items()]
    return {"temperature": temperature, "penalty": penalty, "checks": checks}
