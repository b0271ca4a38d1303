"""Every Redis key Decoding Lab reads or writes, named in one place (as rq's own `keys` module does).

No other module builds a key from fragments: it asks `Keys` (one per prefix, `store.keys`). Everything
lives under one prefix (`DECODELAB_PREFIX`, `dl` by default); RQ keeps its own `rq:*` keys and its
queues are named here too. A record is stored as JSON (a string key of its own, or one field's value in a
hash: "-> ClassInfo JSON") or, for a `Submission`, as a hash of its fields. The records are defined in
`shared/contract/records.py`, but for `Answer`, which only services/lessons.py reads and writes. The
gallery is a set of sorted-set indexes, so a page reads only what it shows; every index write is
idempotent, so a retried submission changes nothing.

    key                                    type    holds                                                         written by
    {p}:classes                            hash    class code -> ClassInfo JSON                                  services/classes (roster: lock, size)
    {p}:secret                             string  the server secret: signs sessions and memberships             services/moderation
    {p}:login:{kind}:{digest}              hash    failed instructor logins of a browser/address: failures, until (expires)  services/moderation
    {p}:door:{kind}:{digest}               string  attempts of one kind by one address or class: a count (expires)  services/door
    {p}:signed_out:{digest}                string  a sign-in ended by logout: its tokens get nothing (expires)   services/sessions
    {p}:instructor_browsers                zset    browsers the instructor logged in from, by last login         services/moderation
    {p}:workers                            set     names of workers that announced themselves                    services/workers
    {p}:worker:{name}                      string  WorkerInfo JSON of a live worker (expires)                    services/workers
    {p}:cancel                             set     submission ids their students cancelled                       services/store
    {p}:sub:{id}                           hash    Submission: its Request JSON, status, progress, attempts, output ids  services/store
    {p}:partial:{id}                       string  JSON list of PartialText: the text so far (1 h)               services/store
    {p}:submitting:{code}:{student id}     string  lock held while one student's submit runs (redis-py lock)     services/submit
    {p}:student:{code}:{student id}        zset    the student's submission ids by creation                      services/store
    {p}:patterns:{code}:{student id}       zset    the student's regex checks of the last minute                 services/limits
    {p}:out:{output id}                    string  Output JSON (output id = "{submission id}:{index}")           services/gallery (publish)
    {p}:tok:{output id}                    string  an output's token details: PackedTokens bytes (TokenDetails JSON also reads)  services/gallery (publish)
    {p}:vocab:{model}                      hash    token id -> its text, for packed token details                services/store
    {p}:cache:{hash}                       string  output id answering an identical generation (hash: services/cache_identity)  services/gallery (publish)
    {p}:explore:{id}                       hash    logits (float32 bytes), prompt_ids and texts (JSON) of one next-token view (1 day)  services/store
    {p}:model:{model}                      RQ      queue of one model (RQ's keys: rq:queue:{p}:model:{model})    services/submit
    {p}:class:{code}:students              hash    student id -> StudentInfo JSON                                services/classes, roster
    {p}:class:{code}:removed               hash    student id -> StudentInfo JSON of a removed student           services/roster
    {p}:class:{code}:student_seq           string  last student number given in the class                        services/classes
    {p}:class:{code}:names                 hash    a name's look-alike key -> how many took it ("Ana · 2")       services/classes
    {p}:class:{code}:joins:{minute}        string  joins in one minute: a count (expires)                        services/classes
    {p}:class:{code}:joins:browser:{hash}  string  joins from one browser in an hour: a count (expires)          services/classes
    {p}:class:{code}:pending               set     submission ids queued, running or checking                    services/store, moderation
    {p}:class:{code}:outputs               zset    every output id, by finish time                               services/gallery
    {p}:class:{code}:visible               zset    outputs students may see (hidden removed)                     services/gallery, moderation, roster
    {p}:class:{code}:groups                hash    group key -> readable label                                   services/gallery
    {p}:class:{code}:group:{key}           zset    outputs of one effective configuration                        services/gallery
    {p}:class:{code}:lab:{lab}             zset    outputs of one lab                                            services/gallery
    {p}:class:{code}:student:{id}          zset    outputs of one student                                        services/gallery
    {p}:class:{code}:prompt:{hash}         zset    outputs of one prompt                                         services/gallery
    {p}:class:{code}:prompts               hash    prompt hash -> prompt text (300 chars)                        services/gallery
    {p}:class:{code}:sort:{metric}         zset    outputs scored by perplexity/distinct_2/tokens                services/gallery
    {p}:class:{code}:stats                 hash    output id -> OutputStats JSON (summaries, charts)             services/gallery
    {p}:class:{code}:query:{digest}        zset    one gallery query's result (expires in 30 s)                  services/gallery
    {p}:class:{code}:starred               zset    outputs the instructor starred, by star time                  services/moderation
    {p}:class:{code}:hidden                set     outputs the instructor hid                                    services/moderation, roster
    {p}:class:{code}:comments              hash    output id -> the instructor's comment                         services/moderation
    {p}:class:{code}:lesson                hash    the running lesson: its source, step, question state, reveal, blind pick (JSON), versions  services/lessons
    {p}:class:{code}:answers:{question}    hash    student id -> Answer JSON (services/lessons.Answer)           services/lessons
    {p}:class:{code}:questions             zset    question keys ("lesson/step") asked, by first answer          services/lessons
"""

from __future__ import annotations

from dataclasses import dataclass

# The gallery's per-output indexes a filter can name (`Keys.index`).
INDEXES = ("lab", "student", "prompt", "group", "sort")


@dataclass(frozen=True)
class Keys:
    prefix: str = "dl"

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    # --- the whole service ---------------------------------------------------------------------
    def classes(self) -> str:
        return self._key("classes")

    def secret(self) -> str:
        return self._key("secret")

    def login_failures(self, kind: str, digest: str) -> str:
        return self._key("login", kind, digest)

    # --- the door: limits on joins, rejoins and logins; sign-ins (services/door, sessions) --------
    def door(self, kind: str, digest: str) -> str:
        return self._key("door", kind, digest)

    def signed_out(self, digest: str) -> str:
        return self._key("signed_out", digest)

    def instructor_browsers(self) -> str:
        return self._key("instructor_browsers")

    def workers(self) -> str:
        return self._key("workers")

    def worker(self, name: str) -> str:
        return self._key("worker", name)

    def cancel(self) -> str:
        return self._key("cancel")

    def queue(self, model: str) -> str:
        """The RQ queue's name (RQ prefixes it with `rq:queue:` for its own list)."""
        return self._key("model", model)

    # --- one submission and its outputs --------------------------------------------------------
    def submission(self, submission_id: str) -> str:
        return self._key("sub", submission_id)

    def submission_pattern(self) -> str:
        """For SCAN (benchmarks and operators only)."""
        return self._key("sub", "*")

    def partial(self, submission_id: str) -> str:
        """The text each generation of a running submission has so far (streamed to its page)."""
        return self._key("partial", submission_id)

    def submitting(self, code: str, student_id: str) -> str:
        return self._key("submitting", code, student_id)

    def student_submissions(self, code: str, student_id: str) -> str:
        return self._key("student", code, student_id)

    def pattern_checks(self, code: str, student_id: str) -> str:
        """Each of the student's custom regexes compiled in a sandboxed child, by time (a per-minute limit)."""
        return self._key("patterns", code, student_id)

    def output(self, output_id: str) -> str:
        return self._key("out", output_id)

    def token_details(self, output_id: str) -> str:
        return self._key("tok", output_id)

    def vocabulary(self, model: str) -> str:
        return self._key("vocab", model)

    def cache_pattern(self) -> str:
        """For SCAN (the retention sweep: cache entries of a deleted class)."""
        return self._key("cache", "*")

    def cache(self, digest: str) -> str:
        return self._key("cache", digest)

    def exploration(self, request_id: str) -> str:
        return self._key("explore", request_id)

    def everything(self) -> str:
        """Every key under the prefix, for SCAN (benchmarks that clean up after themselves)."""
        return self._key("*")

    # --- one class -----------------------------------------------------------------------------
    def _class(self, code: str, *parts: str) -> str:
        return self._key("class", code, *parts)

    def class_pattern(self, code: str) -> str:
        """Every key of one class, for SCAN (the retention sweep deletes them)."""
        return self._class(code, "*")

    def student_submissions_pattern(self, code: str) -> str:
        """Every student's submission index in one class, for SCAN (the retention sweep)."""
        return self._key("student", code, "*")

    def students(self, code: str) -> str:
        return self._class(code, "students")

    def removed_students(self, code: str) -> str:
        return self._class(code, "removed")

    def student_seq(self, code: str) -> str:
        return self._class(code, "student_seq")

    def student_names(self, code: str) -> str:
        return self._class(code, "names")

    def joins_in_minute(self, code: str, minute: int) -> str:
        return self._class(code, "joins", str(minute))

    def joins_from_browser(self, code: str, browser: str) -> str:
        return self._class(code, "joins", "browser", browser)

    def pending(self, code: str) -> str:
        return self._class(code, "pending")

    def outputs(self, code: str) -> str:
        return self._class(code, "outputs")

    def visible(self, code: str) -> str:
        return self._class(code, "visible")

    def groups(self, code: str) -> str:
        return self._class(code, "groups")

    def prompts(self, code: str) -> str:
        return self._class(code, "prompts")

    def stats(self, code: str) -> str:
        return self._class(code, "stats")

    def index(self, code: str, index: str, value: str) -> str:
        """One of the gallery's indexes: outputs with `index` (lab, student, prompt, group, sort) = `value`."""
        if index not in INDEXES:
            raise ValueError(f"no gallery index {index!r}")
        return self._class(code, index, value)

    def query(self, code: str, digest: str) -> str:
        return self._class(code, "query", digest)

    def starred(self, code: str) -> str:
        return self._class(code, "starred")

    def hidden(self, code: str) -> str:
        return self._class(code, "hidden")

    def comments(self, code: str) -> str:
        return self._class(code, "comments")

    # --- the lesson the instructor leads (services/lessons.py) ---------------------------------
    def lesson(self, code: str) -> str:
        return self._class(code, "lesson")

    def answers(self, code: str, question: str) -> str:
        """`question` is "lesson id/step id" (both restricted to [a-z0-9._-] by the lesson format)."""
        return self._class(code, "answers", question)

    def questions(self, code: str) -> str:
        return self._class(code, "questions")
