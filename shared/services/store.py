"""The store both processes read and write: submissions, their progress, outputs, explorations.

Key names are `shared/contract/keys.py` (`store.keys`); record fields are `shared/contract/records.py`.
The gallery's indexes and the writes that publish a finished submission are `shared/services/gallery.py`,
which builds on this module (never the reverse). Output ids are deterministic, so a submission stored
twice (a retried job) never duplicates itself.
"""

from __future__ import annotations

import json
import time

from redis import BlockingConnectionPool, Redis

from shared.contract.keys import Keys
from shared.contract.packed_tokens import MAGIC, PackedTokens, texts_lookup
from shared.contract.problems import Problem
from shared.contract.records import (
    ACTIVE,
    CANCELLED,
    CHECKING,
    DONE,
    FAILED,
    QUEUED,
    RUNNING,
    Output,
    PartialText,
    Request,
    Submission,
    TokenDetails,
)

VOCABULARY_CHUNK = 5000  # token texts per HSET when a worker stores its model's vocabulary
PARTIAL_TTL_SECONDS = 3600  # streamed text outlives its submission's run only this long
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
        self.keys = Keys(prefix)

    # --- submissions --------------------------------------------------------------------------
    def add_submission(self, pipeline, request: Request) -> None:
        """Queue the writes that record a new submission (executed with its RQ enqueue)."""
        pipeline.hset(self.keys.submission(request.id), mapping=Submission.new(request).to_hash())
        pipeline.zadd(self.keys.student_submissions(request.class_code, request.student_id),
                      {request.id: request.created_at})
        pipeline.sadd(self.keys.pending(request.class_code), request.id)

    def submission(self, submission_id: str) -> Submission | None:
        """None when there is none; raises `Problem.Invalid` (a ValueError) when its record is damaged."""
        raw = self.redis.hgetall(self.keys.submission(submission_id))
        return Submission.from_hash(raw) if raw else None

    def status(self, submission_id: str) -> str | None:
        raw = self.redis.hget(self.keys.submission(submission_id), "status")
        return raw.decode() if raw else None

    def statuses(self, submission_ids: list[str]) -> list[str | None]:
        """Each submission's status, in one round trip."""
        with self.redis.pipeline(transaction=False) as pipe:
            for submission_id in submission_ids:
                pipe.hget(self.keys.submission(submission_id), "status")
            return [raw.decode() if raw else None for raw in pipe.execute()]

    def exists(self, submission_id: str) -> bool:
        return bool(self.redis.exists(self.keys.submission(submission_id)))

    def mark_running(self, submission_id: str, worker: str) -> int:
        """Record that a worker started the submission; returns the attempt number (1 = first)."""
        with self.redis.pipeline() as pipe:
            pipe.hset(self.keys.submission(submission_id), mapping={
                "status": RUNNING, "started_at": time.time(), "worker": worker, "progress_done": 0})
            pipe.hincrby(self.keys.submission(submission_id), "attempts", 1)
            return int(pipe.execute()[1])

    def holders(self, submission_ids: list[str]) -> list[tuple[str, int, bool]]:
        """(worker, attempt, still active) of each submission, in one round trip: who may publish it."""
        with self.redis.pipeline(transaction=False) as pipe:
            for submission_id in submission_ids:
                pipe.hmget(self.keys.submission(submission_id), "worker", "attempts", "status")
            return [_holder(reply) for reply in pipe.execute()]

    def request_cancel(self, submission_id: str) -> bool:
        """Flag a submission for cancelling while it is still active; False when it has already finished.
        Atomic with the worker's `publish`, which watches these flags: a True here always ends it cancelled,
        never done, however close the two come."""
        key = self.keys.submission(submission_id)

        def flag(pipe) -> bool:
            status = pipe.hget(key, "status")
            if status is None or status.decode() not in ACTIVE:
                return False
            pipe.multi()
            pipe.sadd(self.keys.cancel(), submission_id)
            return True

        return self.redis.transaction(flag, key, value_from_callable=True)

    def cancel_requested(self, submission_ids: list[str]) -> list[str]:
        """Which of `submission_ids` their students asked to cancel (one round trip)."""
        if not submission_ids:
            return []
        flags = self.redis.smismember(self.keys.cancel(), submission_ids)
        return [i for i, flag in zip(submission_ids, flags) if flag]

    def forget_cancel(self, submission_id: str) -> None:
        self.redis.srem(self.keys.cancel(), submission_id)

    def mark_checking(self, submission_id: str) -> None:
        """Every generation is done; the instruction checks still run (off the generation loop)."""
        self.redis.hset(self.keys.submission(submission_id), "status", CHECKING)

    def set_progress(self, progress: dict[str, int], partials: dict[str, list[PartialText]] | None = None) -> None:
        """Tokens done per submission, and (`partials`) the text so far of those whose text changed."""
        with self.redis.pipeline(transaction=False) as pipe:
            for submission_id, done in progress.items():
                pipe.hset(self.keys.submission(submission_id), "progress_done", done)
            for submission_id, texts in (partials or {}).items():
                pipe.set(self.keys.partial(submission_id), json.dumps([p.to_dict() for p in texts]),
                         ex=PARTIAL_TTL_SECONDS)
            pipe.execute()

    def has_words_or_ended(self, submission_id: str) -> bool:
        """True once the submission's first words are published, or once it is no longer queued or
        running (ended, or its generations done): one round trip, cheap enough to ask every few
        hundredths of a second while a page waits for the first words."""
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.exists(self.keys.partial(submission_id))
            pipe.hget(self.keys.submission(submission_id), "status")
            has_words, status = pipe.execute()
        return bool(has_words) or (status or b"").decode() not in (QUEUED, RUNNING)

    def partial_texts(self, submission_id: str) -> tuple[PartialText, ...]:
        """The streamed text of a running submission's generations (empty before the first is published)."""
        raw = self.redis.get(self.keys.partial(submission_id))
        try:
            return tuple(PartialText.from_dict(item) for item in json.loads(raw)) if raw else ()
        except (ValueError, TypeError):  # damaged: the page shows the progress bar alone
            return ()

    def write_outputs(self, pipe, request: Request, outputs: list[Output], details: dict[str, TokenDetails | PackedTokens],
                      cache_keys: dict[str, str]) -> None:
        """Queue the writes of a finished submission's records and its status change (the gallery's
        `publish` adds its indexes to the same transaction). `details`: token view data by output id;
        `cache_keys`: output id -> the cache key it answers."""
        for output_id, detail in details.items():
            stored = detail.to_bytes() if isinstance(detail, PackedTokens) else json.dumps(detail.to_dict())
            pipe.set(self.keys.token_details(output_id), stored)
        for output_id, cache_key in cache_keys.items():
            pipe.set(self.keys.cache(cache_key), output_id, nx=True)
        for output in outputs:
            pipe.set(self.keys.output(output.id), json.dumps(output.to_dict(), ensure_ascii=False))  # UTF-8, not \\uXXXX
        pipe.hset(self.keys.submission(request.id), mapping={
            "status": DONE, "finished_at": time.time(), "progress_done": request.total_tokens,
            "outputs": json.dumps([o.id for o in outputs])})
        pipe.srem(self.keys.pending(request.class_code), request.id)
        pipe.delete(self.keys.partial(request.id))  # the outputs now say it all

    def complete_exploration(self, request: Request, logits: bytes, prompt_ids: list[int], texts: dict) -> None:
        """Store a next-token distribution (float32 logits, the text of its likeliest tokens by id) for
        the explorer; kept for a day."""
        key = self.keys.exploration(request.id)
        with self.redis.pipeline() as pipe:
            pipe.hset(key, mapping={"logits": logits, "prompt_ids": json.dumps(prompt_ids), "texts": json.dumps(texts)})
            pipe.expire(key, 24 * 3600)
            pipe.hset(self.keys.submission(request.id), mapping={"status": DONE, "finished_at": time.time()})
            pipe.srem(self.keys.pending(request.class_code), request.id)
            pipe.execute()

    def exploration(self, request_id: str) -> tuple[bytes, list[int], dict] | None:
        raw = self.redis.hgetall(self.keys.exploration(request_id))
        if not raw:
            return None
        return raw[b"logits"], json.loads(raw[b"prompt_ids"]), json.loads(raw[b"texts"])

    def fail_submission(self, request: Request, problem: Problem) -> None:
        self.fail_record(request.id, request.class_code, problem)

    def fail_record(self, submission_id: str, class_code: str | None, problem: Problem) -> None:
        """End a submission as failed with `problem` (as cancelled, when that is the problem), also when its
        record is too damaged to read: without a usable class code it leaves every class's pending set."""
        codes = [class_code] if isinstance(class_code, str) and class_code else \
            [c.decode() for c in self.redis.hkeys(self.keys.classes())]
        status = CANCELLED if problem.code == "cancelled" else FAILED
        with self.redis.pipeline() as pipe:
            pipe.hset(self.keys.submission(submission_id), mapping={
                "status": status, "finished_at": time.time(), "error": json.dumps(problem.to_dict())})
            pipe.delete(self.keys.partial(submission_id))
            for code in codes:
                pipe.srem(self.keys.pending(code), submission_id)
            pipe.execute()

    def token_details(self, output_id: str) -> TokenDetails | None:
        """The token view's record: packed (ids; texts from the model's vocabulary) or, stored before, JSON."""
        raw = self.redis.get(self.keys.token_details(output_id))
        if not raw:
            return None
        if not raw.startswith(MAGIC):
            return TokenDetails.from_dict(json.loads(raw))
        packed = PackedTokens.from_bytes(raw)
        return packed.details(texts_lookup(self.token_texts(packed.model, sorted(packed.ids_shown()))))

    def save_vocabulary(self, model: str, texts: list[str]) -> None:
        """Each token id's text, once per model (a worker at start): packed token details hold only ids."""
        key = self.keys.vocabulary(model)
        if self.redis.hlen(key) == len(texts):
            return
        with self.redis.pipeline(transaction=False) as pipe:
            for start in range(0, len(texts), VOCABULARY_CHUNK):
                pipe.hset(key, mapping={i: texts[i] for i in range(start, min(start + VOCABULARY_CHUNK, len(texts)))})
            pipe.execute()

    def token_texts(self, model: str, token_ids: list[int]) -> dict[int, str]:
        if not token_ids:
            return {}
        raw = self.redis.hmget(self.keys.vocabulary(model), token_ids)
        return {i: text.decode("utf-8", "replace") for i, text in zip(token_ids, raw) if text is not None}

    def cached_outputs(self, cache_keys: list[str]) -> list[str | None]:
        """Output id that answered each cache key before, or None."""
        raw = self.redis.mget([self.keys.cache(k) for k in cache_keys]) if cache_keys else []
        return [r.decode() if r else None for r in raw]

    def submission_outputs(self, submission_id: str) -> list[Output]:
        raw = self.redis.hget(self.keys.submission(submission_id), "outputs")
        return self.outputs(json.loads(raw)) if raw else []

    def student_submissions(self, code: str, student_id: str, limit: int = 20) -> list[str]:
        ids = self.redis.zrevrange(self.keys.student_submissions(code, student_id), 0, limit - 1)
        return [i.decode() for i in ids]

    # --- outputs and the gallery --------------------------------------------------------------
    def outputs(self, output_ids: list[str]) -> list[Output]:
        if not output_ids:
            return []
        raw = self.redis.mget([self.keys.output(i) for i in output_ids])
        return [Output.from_dict(json.loads(r)) for r in raw if r is not None]

    def class_output_count(self, code: str) -> int:
        return self.redis.zcard(self.keys.outputs(code))

    def pending_count(self, code: str) -> int:
        return self.redis.scard(self.keys.pending(code))


def _holder(reply: list) -> tuple[str, int, bool]:
    worker, attempts, status = (value.decode() if value else "" for value in reply)
    return worker, int(attempts or 0), status in ACTIVE
