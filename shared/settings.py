"""One frozen settings object, read from environment variables once at start-up.

Both processes import this module; it imports neither torch nor streamlit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from urllib.parse import urlsplit, urlunsplit


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def redact_url(url: str) -> str:
    """A Redis URL safe to print: its password (and user) replaced by `***`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


SECRET_FIELDS = ("instructor_password", "secret")


@dataclass(frozen=True, repr=False)
class Settings:
    # Where Redis lives. `make run` starts an embedded server and sets this for its children.
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Prefix of every key Decoding Lab writes (RQ's own keys are always `rq:*`).
    key_prefix: str = "dl"
    # Model the worker loads: a hub name, a local directory, `demo` (data/models/demo, from `make demo-model`),
    # or `random-tiny` / `random-distilgpt2`.
    model: str = "distilgpt2"
    # `auto` = CUDA when present, else CPU. Or `cpu`, `cuda`, `cuda:1`.
    device: str = "auto"
    # `auto` = float16 on CUDA, float32 on CPU. Or `float32`, `float16`, `bfloat16`.
    dtype: str = "auto"
    # Most generations one worker runs at once (rows of the batch). 0 = automatic: 64 on CPU; on a
    # GPU as many as its free memory holds at full context, up to 1024. Free GPU memory caps it too.
    max_batch: int = 0
    # Instructor password; empty means the instructor console stays locked.
    instructor_password: str = field(default="", repr=False)
    # Language of the interface when a user has not chosen one: `es` or `en`.
    default_language: str = "es"
    # How often an RQ job is retried after its worker died (SIGKILL, host lost).
    job_retries: int = 3
    # Seconds between a worker's heartbeats; a job whose heartbeat is older than
    # `heartbeat_seconds + heartbeat_grace` is considered abandoned and requeued.
    heartbeat_seconds: int = 5
    heartbeat_grace: int = 15
    # Seconds between a worker's sweeps of abandoned jobs (RQ's default is 10 minutes).
    maintenance_seconds: int = 10
    # Seconds a whole submission may run before RQ gives up on it.
    job_timeout: int = 1800
    # Most characters accepted in a prompt (the token limit is checked as well).
    max_prompt_chars: int = 6000
    # Most configurations in one submission.
    max_configs: int = 16
    # Per student: submissions queued or running at once, and submissions per minute.
    max_active_per_student: int = 3
    max_per_minute_per_student: int = 10
    # Threads torch may use in a worker (0 = torch's default); one per worker when several share a CPU.
    torch_threads: int = 0
    # Signs students' class membership in their sessions; empty = a random one kept in Redis.
    secret: str = field(default="", repr=False)
    # A class opened when the dashboard starts, so a first run works without the instructor; "" = none.
    demo_class: str = "demo"

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            redis_url=os.environ.get("REDIS_URL", "").strip() or cls.redis_url,
            key_prefix=os.environ.get("DECODELAB_PREFIX", "").strip() or cls.key_prefix,
            model=os.environ.get("DECODELAB_MODEL", "").strip() or cls.model,
            device=os.environ.get("DECODELAB_DEVICE", "").strip() or cls.device,
            dtype=os.environ.get("DECODELAB_DTYPE", "").strip() or cls.dtype,
            max_batch=_int("DECODELAB_MAX_BATCH", cls.max_batch),
            instructor_password=os.environ.get("DECODELAB_INSTRUCTOR_PASSWORD", ""),
            default_language=os.environ.get("DECODELAB_LANG", "").strip() or cls.default_language,
            job_retries=_int("DECODELAB_JOB_RETRIES", cls.job_retries),
            heartbeat_seconds=_int("DECODELAB_HEARTBEAT_SECONDS", cls.heartbeat_seconds),
            heartbeat_grace=_int("DECODELAB_HEARTBEAT_GRACE", cls.heartbeat_grace),
            maintenance_seconds=_int("DECODELAB_MAINTENANCE_SECONDS", cls.maintenance_seconds),
            job_timeout=_int("DECODELAB_JOB_TIMEOUT", cls.job_timeout),
            max_prompt_chars=_int("DECODELAB_MAX_PROMPT_CHARS", cls.max_prompt_chars),
            demo_class=os.environ.get("DECODELAB_DEMO_CLASS", cls.demo_class).strip(),
            secret=os.environ.get("DECODELAB_SECRET", ""),
            max_active_per_student=_int("DECODELAB_MAX_ACTIVE_PER_STUDENT", cls.max_active_per_student),
            max_per_minute_per_student=_int("DECODELAB_MAX_PER_MINUTE", cls.max_per_minute_per_student),
            torch_threads=_int("DECODELAB_TORCH_THREADS", cls.torch_threads),
        )

    def __repr__(self) -> str:
        """Every setting, with the Redis password masked and the secrets left out: safe for any log."""
        shown = [f"{f.name}={redact_url(self.redis_url) if f.name == 'redis_url' else getattr(self, f.name)!r}"
                 for f in fields(self) if f.name not in SECRET_FIELDS]
        return f"Settings({', '.join(shown)})"

    def queue_name(self, model: str | None = None) -> str:
        """One RQ queue per model, so workers of different models never take each other's jobs."""
        return f"{self.key_prefix}:model:{model or self.model}"
