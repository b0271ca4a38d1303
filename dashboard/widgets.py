"""Small rendering pieces the pages share. Model output and names are always shown as plain text."""

from __future__ import annotations

import time

import streamlit as st

from dashboard.common import lang, tr
from shared.problems import Problem


def output_card(output: dict, show_student: bool = False) -> None:
    """One generated text with its effective config; never rendered as Markdown or HTML."""
    with st.container(border=True):
        st.text(output["label"])
        if show_student:
            when = time.strftime("%H:%M:%S", time.localtime(output["finished_at"]))
            st.text(tr("gallery.by", student=output["student"], when=when))
        st.text(output["text"] or "∅")
        reason = tr(f"decoding.reason.{output['finish_reason']}")
        st.text(tr("decoding.meta", tokens=output["new_tokens"], reason=reason, seed=output["seed"],
                   model=output["model"]))
        if output.get("random_weights"):
            st.text("⚠ " + tr("app.random_weights"))
        if output.get("demo_model"):
            st.text("ℹ " + tr("app.demo_model"))


def progress_banner(view: dict) -> bool:
    """Queue position and estimated wait, tokens done, or the failure's reason; True once done."""
    if view["status"] == "queued":
        where = {"position": view["position"] or "?", "depth": view["depth"] or "?"}
        if view.get("wait_seconds") is not None:
            st.info(tr("decoding.queued_wait", seconds=max(1, round(view["wait_seconds"])), **where))
        else:
            st.info(tr("decoding.queued", **where))
        if view["attempts"]:
            st.warning(tr("decoding.retrying", attempt=view["attempts"] + 1))
    elif view["status"] == "running":
        st.progress(min(1.0, view["done"] / max(1, view["total"])),
                    text=tr("decoding.running", done=view["done"], total=view["total"]))
    elif view["status"] == "checking":
        st.progress(1.0, text=tr("decoding.checking", total=view["total"]))
    elif view["status"] == "failed":
        error = view["error"] or {"code": "worker_error", "params": {"detail": "?"}}
        st.error(tr("decoding.failed", reason=Problem.from_dict(error).message(lang())))
    return view["status"] == "done"
