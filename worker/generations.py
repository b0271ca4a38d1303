"""Identical generations in flight run once: the first leads, the others follow its result.

Two generations are identical when their cache keys are (same class, model, prompt, effective config
and seed: a class pressing Run on the notebook's greedy preset). The engine runs the leader's; each
follower gets a copy of its result, and its page shows the leader's text while it runs. When a leader
leaves unfinished (cancelled, timed out, taken over), its first follower still here leads the rest.

The worker owns the engine and the submissions; this class only keeps who follows whom, so the
bookkeeping is tested without either (tests/test_generations.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

GenerationKey = tuple[str, int]  # (submission id, item index): a generation's key in the engine
T = TypeVar("T")


class SharedGenerations:
    """Leaders by cache key, and each leader's followers. `alive` says whether a generation's
    submission is still held by the worker (one that left may still be named here)."""

    def __init__(self, alive: Callable[[GenerationKey], bool]):
        self._alive = alive
        self._leaders: dict[str, GenerationKey] = {}                      # cache key -> generation running it
        self._followers: dict[GenerationKey, list[GenerationKey]] = {}    # leader -> generations waiting on it

    def lead_or_follow(self, cache_key: str, key: GenerationKey) -> bool:
        """True: `key` leads (the caller runs it); False: it follows the identical generation running."""
        leader = self._leaders.get(cache_key)
        if leader is not None and self._alive(leader):
            self._followers.setdefault(leader, []).append(key)
            return False
        self._leaders[cache_key] = key
        return True

    def finished(self, cache_key: str | None, key: GenerationKey) -> list[GenerationKey]:
        """`key`'s result is back and it leads no more: an identical generation admitted later runs anew
        (or, once this result is stored, is answered from the cache). Returns the followers it answers."""
        if cache_key is not None:
            self._leaders.pop(cache_key, None)
        return self._followers.pop(key, [])

    def leave(self, cache_key: str, key: GenerationKey) -> GenerationKey | None:
        """`key` leaves unfinished: its first follower still here leads the others from now on, and is
        returned for the caller to run; None when nobody was waiting on it."""
        if self._leaders.get(cache_key) == key:
            del self._leaders[cache_key]
        waiting = [k for k in self._followers.pop(key, []) if self._alive(k)]
        if not waiting:
            return None
        heir, rest = waiting[0], waiting[1:]
        self._leaders[cache_key] = heir
        self._followers[heir] = rest
        return heir

    def show_leaders(self, running: dict[GenerationKey, T]) -> None:
        """Each follower of a running leader shows the leader's progress: `running` (generation key ->
        its tokens so far) gains an entry per such follower."""
        for leader, followers in self._followers.items():
            if leader in running:
                for follower in followers:
                    running[follower] = running[leader]

    def clear(self) -> None:
        """The engine was replaced (crash isolation): every unfinished generation is run again by its own
        submission, none follows another."""
        self._leaders.clear()
        self._followers.clear()
