"""Faults a user can cause, as data: a code from the translation table plus its parameters.

Validation collects every `Problem` and raises them together, so a student sees all that is wrong at
once, in their language, and nothing is enqueued.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Problem:
    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def __init__(self, code: str, **params: Any):
        object.__setattr__(self, "code", code)
        object.__setattr__(self, "params", params)

    def message(self, lang: str) -> str:
        """In `lang`, the field named as the page labels it ("temperatura"), and its row when known."""
        from shared.contract.i18n import TEXT, t
        params = dict(self.params)
        if f"field.{params.get('field')}" in TEXT:
            params["field"] = t(f"field.{params['field']}", lang)
        text = t(f"problem.{self.code}", lang, **params)
        return t("problem.in_row", lang, row=params["row"], message=text) if "row" in params else text

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "params": self.params}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Problem:
        return cls(data["code"], **data.get("params", {}))

    class Invalid(ValueError):
        """Raised with every problem found in one request."""

        def __init__(self, problems: list[Problem]):
            super().__init__("; ".join(p.code for p in problems))
            self.problems = list(problems)

        def messages(self, lang: str) -> list[str]:
            return [p.message(lang) for p in self.problems]
