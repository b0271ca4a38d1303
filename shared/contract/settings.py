"""Every setting of Decoding Lab: one frozen object, read from environment variables once at start-up.

Each field names its environment variable, its default and its meaning in one place (`setting(...)`);
`Settings.from_env` reads them all, and the README's configuration table is generated from the same
fields (`python -m shared.contract.settings` prints it; a test checks the README holds exactly that).
Both processes import this module; it imports neither torch nor streamlit.
"""

from __future__ import annotations

import os
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any
from urllib.parse import unquote_plus, urlsplit

from shared.contract.keys import Keys

# Query parameters of a connection URL whose value is a secret: redis-py passes every unknown query
# parameter to the connection, so `redis://host/0?password=...` logs in as surely as `redis://:pw@host`.
SECRET_QUERY_NAMES = ("password", "pass", "passwd", "pwd", "secret", "token", "auth", "key")
MASK = "***"


def redact_url(url: str) -> str:
    """A Redis URL safe to print or show: its user and password (`redis://user:pw@host`) and every
    secret-looking query parameter (`?password=...`) replaced by `***`. Whatever cannot be parsed is
    not shown at all (it might hold a password in a form we do not recognise)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc
    if parts.password is not None or parts.username is not None or "@" in netloc:
        host = parts.hostname or ""
        netloc = f"{MASK}@{f'[{host}]' if ':' in host else host}" + (f":{port}" if port else "")
    query = _redact_query(parts.query)  # the fragment is left out: nothing of ours goes there
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")


def _redact_query(query: str) -> str:
    """`a=1&password=x` -> `a=1&password=***`: any parameter whose name contains a secret word."""
    redacted = []
    for pair in query.split("&") if query else []:
        name, equals, _ = pair.partition("=")
        secret = any(word in unquote_plus(name).lower() for word in SECRET_QUERY_NAMES)
        redacted.append(f"{name}={MASK}" if secret and equals else pair)
    return "&".join(redacted)


def setting(default: Any, env: str, meaning: str, *, shown: str | None = None, secret: bool = False,
            blank_means_none: bool = False) -> Any:
    """A settings field and its environment variable. `shown`: the default as the README says it, when the
    value alone would mislead; `secret`: never printed; `blank_means_none`: an empty variable is a value
    (e.g. "no demo class"), not "use the default"."""
    return field(default=default, repr=not secret, metadata={
        "env": env, "meaning": meaning, "shown": shown, "secret": secret, "blank_means_none": blank_means_none})


@dataclass(frozen=True, repr=False)
class Settings:
    redis_url: str = setting(
        "redis://127.0.0.1:6379/0", "REDIS_URL", "Redis the dashboard and workers share",
        shown="embedded server (`make run`), else `redis://127.0.0.1:6379/0`")
    model: str = setting(
        "distilgpt2", "DECODELAB_MODEL",
        "hub name, local directory, `demo` (`data/models/demo`, built by `make demo-model`), `random-tiny` or "
        "`random-distilgpt2`")
    device: str = setting("auto", "DECODELAB_DEVICE", "`auto` (CUDA if present), `cpu`, `cuda`, `cuda:1`")
    dtype: str = setting("auto", "DECODELAB_DTYPE",
                         "`auto` (float16 on CUDA, float32 on CPU), `float32`, `float16`, `bfloat16`")
    max_batch: int = setting(
        0, "DECODELAB_MAX_BATCH",
        "most generations a worker runs at once; auto = 64 on CPU, on GPU what free memory holds at full "
        "context, up to 1024", shown="`0` (auto)")
    instructor_password: str = setting(
        "", "DECODELAB_INSTRUCTOR_PASSWORD", "instructor console password; console locked while unset",
        shown="*(none)*", secret=True)
    default_language: str = setting("es", "DECODELAB_LANG", "default interface language (`es`, `en`)")
    demo_class: str = setting("demo", "DECODELAB_DEMO_CLASS", "class opened at dashboard start; empty for none",
                              blank_means_none=True)
    key_prefix: str = setting("dl", "DECODELAB_PREFIX",
                              "prefix of every key Decoding Lab writes in Redis (`shared/contract/keys.py`)")
    secret: str = setting("", "DECODELAB_SECRET", "signs students' sessions and class membership",
                          shown="random, kept in Redis", secret=True)
    max_active_per_student: int = setting(3, "DECODELAB_MAX_ACTIVE_PER_STUDENT",
                                          "submissions a student may have queued or running")
    max_per_minute_per_student: int = setting(10, "DECODELAB_MAX_PER_MINUTE",
                                              "submissions a student may send per minute")
    sandbox_children: int = setting(
        4, "DECODELAB_SANDBOX_CHILDREN",
        "students' regular expressions compiled at once per dashboard process, each in a child of up to 256 MB; "
        "a press of Run past it waits 2 s, then is asked to try again")

    # --- fair share and storage (docs/fairness-and-storage.md) ---
    tokens_per_minute_per_student: int = setting(
        64000, "DECODELAB_TOKENS_PER_MINUTE",
        "tokens a student's submissions may ask for per minute (max_new_tokens x generations); 0 = no limit")
    fair_rows: int = setting(
        0, "DECODELAB_FAIR_ROWS",
        "engine rows one student may hold while another student with a small job has work",
        shown="`0` (auto: an eighth of the batch)")
    retention_days: int = setting(30, "DECODELAB_RETENTION_DAYS",
                                  "days a closed class's data is kept before it is deleted; 0 = forever")
    max_configs: int = setting(16, "DECODELAB_MAX_CONFIGS", "configurations in one submission, at most")
    max_prompt_chars: int = setting(6000, "DECODELAB_MAX_PROMPT_CHARS",
                                    "longest prompt accepted (the 1024-token window is checked too)")
    torch_threads: int = setting(0, "DECODELAB_TORCH_THREADS",
                                 "threads of one worker; 1 when several workers share a CPU",
                                 shown="`0` (torch's default)")
    job_retries: int = setting(3, "DECODELAB_JOB_RETRIES", "RQ retries of a submission whose worker died; 0 = none")
    heartbeat_seconds: int = setting(5, "DECODELAB_HEARTBEAT_SECONDS", "worker heartbeat period for the jobs it holds")
    heartbeat_grace: int = setting(15, "DECODELAB_HEARTBEAT_GRACE",
                                   "a job not heartbeated for period + grace is abandoned and requeued")
    maintenance_seconds: int = setting(10, "DECODELAB_MAINTENANCE_SECONDS",
                                       "how often workers sweep abandoned jobs (RQ's default: 10 min)")
    job_timeout: int = setting(
        1800, "DECODELAB_JOB_TIMEOUT",
        "RQ job timeout of one submission, seconds: past it, the submission fails (its rows are freed, the "
        "rest of the batch goes on)")
    # --- the door (issue 20: docs/security.md): who a client is, how often it may knock, how long it stays.
    trusted_proxies: str = setting(
        "", "DECODELAB_TRUSTED_PROXIES",
        "reverse proxies (addresses, networks, host names; comma-separated) whose X-Forwarded-For / X-Real-IP "
        "names the client; empty: the connection's own address is the client's", shown="*(none)*")
    joins_per_address_per_hour: int = setting(
        60, "DECODELAB_JOINS_PER_ADDRESS_PER_HOUR",
        "new students one client address may create in an hour (raise it when a class joins through one NAT)")
    student_session_hours: int = setting(12, "DECODELAB_SESSION_HOURS",
                                         "a student's sign-in ends this long after joining (then: rejoin code)")
    instructor_session_hours: int = setting(8, "DECODELAB_INSTRUCTOR_SESSION_HOURS",
                                            "the instructor's sign-in ends this long after the password")

    # Lessons the instructor leads (issue 23, docs/lessons.md).
    lessons_dir: str = setting("", "DECODELAB_LESSONS_DIR",
                               "folder of lesson files (`*.toml`) the console offers",
                               shown="the built-in `lessons/`")
    # `make run` only (scripts/run.py): where it serves and what it starts.
    port: int = setting(8501, "DECODELAB_PORT", "`make run`: the dashboard's port")
    redis_port: int = setting(6390, "DECODELAB_REDIS_PORT",
                              "`make run`: the embedded Redis server's port (when `REDIS_URL` is unset)")
    data_dir: str = setting("data", "DECODELAB_DATA_DIR",
                            "`make run`: where the embedded Redis keeps its files (relative to the checkout)")
    # Operations (docs/operations.md): Prometheus endpoints, on by default as vLLM's and TGI's are, so one
    # scrape config fits every host; a port already taken is logged and the process goes on without it.
    worker_metrics_port: int = setting(9400, "DECODELAB_WORKER_METRICS_PORT",
                                       "port of a worker's Prometheus `/metrics` (all interfaces); 0 = off")
    dashboard_metrics_port: int = setting(9401, "DECODELAB_DASHBOARD_METRICS_PORT",
                                          "port of a dashboard process's Prometheus `/metrics`; 0 = off")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Every field from its variable (a blank one keeps the default); raises ValueError naming the
        variable whose value is not a number where one is needed."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for spec in fields(cls):
            raw = env.get(spec.metadata["env"])
            if raw is None or (not raw.strip() and not spec.metadata["blank_means_none"]):
                continue
            values[spec.name] = _parse(spec, raw)
        return cls(**values)

    def __repr__(self) -> str:
        """Every setting, with the Redis password masked and the secrets left out: safe for any log."""
        shown = [f"{f.name}={redact_url(self.redis_url) if f.name == 'redis_url' else getattr(self, f.name)!r}"
                 for f in fields(self) if not f.metadata["secret"]]
        return f"Settings({', '.join(shown)})"

    def queue_name(self, model: str | None = None) -> str:
        """One RQ queue per model, so workers of different models never take each other's jobs."""
        return Keys(self.key_prefix).queue(model or self.model)


def _parse(spec: Field[Any], raw: str) -> Any:
    if spec.type in ("int", int):
        try:
            return int(raw.strip())
        except ValueError:
            raise ValueError(f"{spec.metadata['env']} must be a whole number, not {raw!r}") from None
    return raw.strip() if not spec.metadata["secret"] else raw


def markdown_table() -> str:
    """The README's configuration table, generated from the fields above."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for spec in fields(Settings):
        default = spec.default if spec.default is not MISSING else ""
        shown = spec.metadata["shown"] or f"`{default}`"
        rows.append(f"| `{spec.metadata['env']}` | {shown} | {spec.metadata['meaning']} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
