"""Redis key layout and the store both processes read and write.

Everything Decoding Lab keeps lives under one prefix (settings.key_prefix, `dl` by default); RQ keeps
its own `rq:*` keys. Records are JSON strings or hashes; the gallery is a set of sorted-set indexes
so that a page reads only what it shows:

    {p}:classes                       hash   class code -> JSON {created_at, open}
    {p}:class:{code}:students         hash   student id (s1, s2...) -> JSON {name, label, joined_at}
    {p}:class:{code}:student_seq      string last student number given in the class
    {p}:class:{code}:names            hash   casefolded name -> how many students took it (labels "Ana · 2")
    {p}:class:{code}:joins:{minute}   string joins in that minute; ...:joins:browser:{hash} joins per browser
    {p}:class:{code}:outputs          zset   output id, scored by finish time (newest = highest)
    {p}:class:{code}:groups           hash   group key -> readable label
    {p}:class:{code}:group:{key}      zset   output ids of one effective configuration
    {p}:class:{code}:pending          set    submission ids queued or running
    {p}:student:{code}:{student id}   zset   the student's submission ids by creation time
    {p}:sub:{id}                      hash   request (JSON), status, error, progress, timestamps
    {p}:out:{id}                      string JSON of one output (id = "{submission id}:{index}")
    {p}:tok:{id}                      string JSON of an output's tokens, their probabilities, alternatives
    {p}:cache:{hash}                  string id of the output that answers an identical request
    {p}:explore:{id}                  hash   a next-token distribution: logits (float32 bytes), prompt ids
    {p}:worker:{name}                 hash   a live worker's model, device, throughput (expires)
    {p}:workers                       set    names of workers that announced themselves
    {p}:class:{code}:starred|hidden|comments   the instructor's marks (shared/moderation.py)
    {p}:secret                        string signs students' class membership (shared/moderation.py)

The gallery's filter and sort indexes are listed in shared/gallery.py.

Output ids are deterministic, so a submission stored twice (a retried job) never duplicates itself.
"""

from __future__ import annotations

import json
import time

from redis import BlockingConnectionPool, Redis

from shared.gallery import index_output

QUEUED, RUNNING, CHECKING, DONE, FAILED = "queued", "running", "checking", "done", "failed"
ACTIVE = (QUEUED, RUNNING, CHECKING)  # not finished: shown as pending, counted against the student's limit


POOL_CONNECTIONS = 64  # per process; a thread over the limit waits for a free connection, not an error


def redis_client(url: str) -> Redis:
    """The one client of a process (many Streamlit sessions share it): a blocking pool, reconnects."""
    pool = BlockingConnectionPool.from_url(url, max_connections=POOL_CONNECTIONS, timeout=20,
                                           health_check_interval=10, socket_timeout=10, socket_connect_timeout=3)
    return Redis(connection_pool=pool)


class Store:
    def __init__(self, redis: Redis, prefix: str = "dl"):
        self.redis = redis
        self.prefix = prefix

    # --- keys ---------------------------------------------------------------------------------
    def key(self, *parts: str) -> str:
        return ":".join([self.prefix, *parts])

    def submission_key(self, submission_id: str) -> str:
        return self.key("sub", submission_id)

    def output_key(self, output_id: str) -> str:
        return self.key("out", output_id)

    def class_key(self, code: str, *parts: str) -> str:
        return self.key("class", code, *parts)

    def student_key(self, code: str, student_id: str) -> str:
        return self.key("student", code, student_id)

    # --- submissions --------------------------------------------------------------------------
    def add_submission(self, pipeline, request: dict) -> None:
        """Queue the writes that record a new submission (executed with its RQ enqueue)."""
        sid, code = request["id"], request["class_code"]
        pipeline.hset(self.submission_key(sid), mapping={
            "request": json.dumps(request), "status": QUEUED, "created_at": request["created_at"],
            "progress_done": 0, "progress_total": request["total_tokens"], "attempts": 0,
        })
        pipeline.zadd(self.student_key(code, request.get("student_id") or request["student"]),
                      {sid: request["created_at"]})
        pipeline.sadd(self.class_key(code, "pending"), sid)

    def submission(self, submission_id: str) -> dict | None:
        raw = self.redis.hgetall(self.submission_key(submission_id))
        if not raw:
            return None
        record = {k.decode(): v.decode() for k, v in raw.items()}
        record["request"] = json.loads(record["request"])
        record["error"] = json.loads(record["error"]) if record.get("error") else None
        for name in ("progress_done", "progress_total", "attempts"):
            record[name] = int(record.get(name, 0))
        return record

    def mark_running(self, submission_id: str, worker: str) -> int:
        """Record that a worker started the submission; returns the attempt number (1 = first)."""
        with self.redis.pipeline() as pipe:
            pipe.hset(self.submission_key(submission_id), mapping={
                "status": RUNNING, "started_at": time.time(), "worker": worker, "progress_done": 0})
            pipe.hincrby(self.submission_key(submission_id), "attempts", 1)
            return int(pipe.execute()[1])

    def mark_checking(self, submission_id: str) -> None:
        """Every generation is done; the instruction checks still run (off the generation loop)."""
        self.redis.hset(self.submission_key(submission_id), "status", CHECKING)

    def set_progress(self, progress: dict[str, int]) -> None:
        with self.redis.pipeline(transaction=False) as pipe:
            for submission_id, done in progress.items():
                pipe.hset(self.submission_key(submission_id), "progress_done", done)
            pipe.execute()

    def complete_submission(self, request: dict, outputs: list[dict], details: dict | None = None,
                            cache_keys: dict | None = None) -> None:
        """Store every output and index it in the class gallery, atomically with the status change.
        `details`: token view data by output id; `cache_keys`: output id -> cache key it answers."""
        sid, code = request["id"], request["class_code"]
        hidden = self.redis.smismember(self.class_key(code, "hidden"), [o["id"] for o in outputs]) if outputs else []
        with self.redis.pipeline() as pipe:
            for output_id, detail in (details or {}).items():
                pipe.set(self.key("tok", output_id), json.dumps(detail))
            for output_id, cache_key in (cache_keys or {}).items():
                pipe.set(self.key("cache", cache_key), output_id, nx=True)
            for output, is_hidden in zip(outputs, hidden):
                pipe.set(self.output_key(output["id"]), json.dumps(output))
                score = output["finished_at"]
                pipe.zadd(self.class_key(code, "outputs"), {output["id"]: score})
                pipe.hset(self.class_key(code, "groups"), output["group_key"], output["label"])
                pipe.zadd(self.class_key(code, "group", output["group_key"]), {output["id"]: score})
                index_output(pipe, self, output, visible=not is_hidden)
            pipe.hset(self.submission_key(sid), mapping={
                "status": DONE, "finished_at": time.time(), "progress_done": request["total_tokens"],
                "outputs": json.dumps([o["id"] for o in outputs])})
            pipe.srem(self.class_key(code, "pending"), sid)
            pipe.execute()

    def complete_exploration(self, request: dict, logits: bytes, prompt_ids: list[int], texts: dict) -> None:
        """Store a next-token distribution (float32 logits, the text of its likeliest tokens by id) for
        the explorer; kept for a day."""
        key = self.key("explore", request["id"])
        with self.redis.pipeline() as pipe:
            pipe.hset(key, mapping={"logits": logits, "prompt_ids": json.dumps(prompt_ids), "texts": json.dumps(texts)})
            pipe.expire(key, 24 * 3600)
            pipe.hset(self.submission_key(request["id"]), mapping={"status": DONE, "finished_at": time.time()})
            pipe.srem(self.class_key(request["class_code"], "pending"), request["id"])
            pipe.execute()

    def exploration(self, request_id: str) -> tuple[bytes, list[int], dict] | None:
        raw = self.redis.hgetall(self.key("explore", request_id))
        if not raw:
            return None
        return raw[b"logits"], json.loads(raw[b"prompt_ids"]), json.loads(raw[b"texts"])

    def fail_submission(self, request: dict, problem: dict) -> None:
        self.fail_record(request["id"], request.get("class_code"), problem)

    def fail_record(self, submission_id: str, class_code, problem: dict) -> None:
        """End a submission as failed with `problem`, also when its record is too damaged to read: without
        a usable class code it leaves every class's pending set."""
        codes = [class_code] if isinstance(class_code, str) and class_code else \
            [c.decode() for c in self.redis.hkeys(self.key("classes"))]
        with self.redis.pipeline() as pipe:
            pipe.hset(self.submission_key(submission_id), mapping={
                "status": FAILED, "finished_at": time.time(), "error": json.dumps(problem)})
            for code in codes:
                pipe.srem(self.class_key(code, "pending"), submission_id)
            pipe.execute()

    def token_details(self, output_id: str) -> dict | None:
        raw = self.redis.get(self.key("tok", output_id))
        return json.loads(raw) if raw else None

    def cached_outputs(self, cache_keys: list[str]) -> list[str | None]:
        """Output id that answered each cache key before, or None."""
        raw = self.redis.mget([self.key("cache", k) for k in cache_keys]) if cache_keys else []
        return [r.decode() if r else None for r in raw]

    def submission_outputs(self, submission_id: str) -> list[dict]:
        raw = self.redis.hget(self.submission_key(submission_id), "outputs")
        return self.outputs(json.loads(raw)) if raw else []

    def student_submissions(self, code: str, student_id: str, limit: int = 20) -> list[str]:
        ids = self.redis.zrevrange(self.student_key(code, student_id), 0, limit - 1)
        return [i.decode() for i in ids]

    # --- outputs and the gallery --------------------------------------------------------------
    def outputs(self, output_ids: list[str]) -> list[dict]:
        if not output_ids:
            return []
        raw = self.redis.mget([self.output_key(i) for i in output_ids])
        return [json.loads(r) for r in raw if r is not None]

    def class_output_count(self, code: str) -> int:
        return self.redis.zcard(self.class_key(code, "outputs"))

    def pending_count(self, code: str) -> int:
        return self.redis.scard(self.class_key(code, "pending"))
