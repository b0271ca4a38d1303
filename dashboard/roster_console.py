"""The roster of one class in the instructor console: who is in, lock joining, the expected size, remove one
student or everyone who joined in the last minutes, a new rejoin code. Drawn by instructor.py (one call
per class); the actions live in shared/services/roster.py and check the instructor's token."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from dashboard.auth import get_secret
from dashboard.common import tr
from dashboard.state import Console
from shared.contract.settings import Settings
from shared.services.roster import (
    RosterRow,
    door_state,
    joined_within,
    lock_joins,
    new_rejoin_code,
    remove_students,
    removed,
    roster,
    set_expected_size,
)
from shared.services.store import Store


def joined_at(seconds: float) -> str:
    """A join time as people read it: the hour today, the date and hour otherwise."""
    moment = time.localtime(seconds)
    same_day = time.strftime("%Y-%m-%d", moment) == time.strftime("%Y-%m-%d")
    return time.strftime("%H:%M:%S" if same_day else "%Y-%m-%d %H:%M", moment)


def keeps_open(code: str) -> bool:
    """The class's section stays open while a removal waits for its confirmation or was just done (its
    expander's label, with the student count, changes, and a new label would draw it closed)."""
    return any((slot.get() or ("",))[0] == code for slot in (Console.CONFIRM_REMOVE, Console.REMOVED))


def roster_section(store: Store, settings: Settings, token: str, code: str) -> None:
    rows = roster(store, code)
    locked, expected = door_state(store, code)
    st.markdown(f"**{tr('roster.header', code=code)}**")
    done = Console.REMOVED.get()
    if done and done[0] == code:
        st.success(done[1])
        Console.REMOVED.pop()
    st.caption(tr("roster.count", students=len(rows), expected=expected or tr("roster.no_limit")))
    _door(store, settings, token, code, locked, expected)
    if not rows:
        st.info(tr("roster.empty"))
    else:
        st.dataframe(roster_table(rows), hide_index=True)
        _one_student(store, settings, token, code, rows)
        _bulk(store, settings, token, code)
        _confirm(store, settings, token, code, rows)  # under both: the question follows either button
    gone = removed(store, code)
    if gone:
        st.caption(tr("roster.removed_list", names=", ".join(gone)))


def roster_table(rows: list[RosterRow]) -> pd.DataFrame:
    columns = [tr("col.student"), tr("col.student_id"), tr("col.joined_at"), tr("col.submissions")]
    return pd.DataFrame([[row.label, row.id, joined_at(row.joined_at), row.submissions] for row in rows],
                        columns=columns)


def _door(store: Store, settings: Settings, token: str, code: str, locked: bool, expected: int) -> None:
    """Lock or unlock joining; the expected class size."""
    if locked:
        st.warning(tr("roster.locked"))
    else:
        st.caption(tr("roster.unlocked"))
    lock, size, save = st.columns([2, 2, 1], vertical_alignment="bottom")
    if lock.button(tr("roster.unlock" if locked else "roster.lock"), key=f"lock-{code}",
                   type="secondary" if locked else "primary", width="stretch"):
        lock_joins(store, settings, token, code, not locked)
        st.rerun()
    wanted = size.number_input(tr("roster.expected"), min_value=0, max_value=2000, value=expected, step=1,
                               help=tr("roster.expected_help"), key=f"expected-size-{code}")
    if save.button(tr("roster.expected_set"), key=f"expected-save-{code}", width="stretch"):
        set_expected_size(store, settings, token, code, int(wanted))
        st.rerun()


def _one_student(store: Store, settings: Settings, token: str, code: str, rows: list[RosterRow]) -> None:
    """Pick a student: remove them (asks first) or give them a new rejoin code."""
    labels = {f"{row.label} ({row.id})": row for row in rows}
    pick, remove, rejoin = st.columns([2, 1, 1], vertical_alignment="bottom")
    chosen = labels[pick.selectbox(tr("roster.pick"), list(labels), key=f"roster-pick-{code}")]
    if remove.button(tr("roster.remove"), key=f"remove-{code}", width="stretch"):
        Console.CONFIRM_REMOVE.set((code, [chosen.id]))
        st.rerun()
    if rejoin.button(tr("roster.new_rejoin"), key=f"rejoin-{code}", width="stretch"):
        fresh = new_rejoin_code(store, settings, token, get_secret(), code, chosen.id)
        if fresh:
            st.success(tr("roster.new_rejoin_done", name=chosen.label, rejoin=fresh))


def _bulk(store: Store, settings: Settings, token: str, code: str) -> None:
    """Everyone who joined in the last N minutes (a flood from a leaked code), after a confirmation."""
    minutes_box, button = st.columns([2, 2], vertical_alignment="bottom")
    minutes = minutes_box.number_input(tr("roster.bulk_minutes"), min_value=1, max_value=24 * 60, value=10,
                                       step=1, key=f"bulk-minutes-{code}")
    count = len(joined_within(store, code, minutes))
    if button.button(tr("roster.bulk_remove", count=count, minutes=minutes), key=f"bulk-{code}",
                     disabled=count == 0, width="stretch"):
        Console.CONFIRM_REMOVE.set((code, [row.id for row in joined_within(store, code, minutes)]))
        st.rerun()


def _confirm(store: Store, settings: Settings, token: str, code: str, rows: list[RosterRow]) -> None:
    pending = Console.CONFIRM_REMOVE.get()
    if not pending or pending[0] != code:
        return
    ids = set(pending[1])
    chosen = [row for row in rows if row.id in ids]
    st.warning(tr("roster.remove_confirm", names=", ".join(row.label for row in chosen) or "—"))
    yes, no = st.columns(2)
    if yes.button(tr("roster.remove_yes"), key=f"remove-yes-{code}", type="primary"):
        count = remove_students(store, settings, token, code, [row.id for row in chosen])
        Console.CONFIRM_REMOVE.pop()
        Console.REMOVED.set((code, tr("roster.removed", count=count)))
        st.rerun()
    if no.button(tr("instructor.close_no"), key=f"remove-no-{code}"):
        Console.CONFIRM_REMOVE.pop()
        st.rerun()
