"""Small rendering pieces the pages share. Model output and names are always shown as plain text."""

from __future__ import annotations

import time

import streamlit as st

from dashboard.common import tr


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


def outputs_side_by_side(outputs: list[dict]) -> None:
    for start in range(0, len(outputs), 3):
        for column, output in zip(st.columns(3), outputs[start:start + 3]):
            with column:
                output_card(output)
