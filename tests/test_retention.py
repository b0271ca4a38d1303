"""shared/services/retention.py: a closed class's data is deleted after the retention, and only its own."""

from dataclasses import replace

from devtools.factories import make_output
from shared.contract.decoding import NOTEBOOK_PROMPT
from shared.contract.packed_tokens import PackedTokens
from shared.services.classes import class_info, close_class, open_class
from shared.services.gallery import publish
from shared.services.retention import DAY_SECONDS, deletion_time, purge_expired_classes
from shared.services.submit import submit
from shared.services.validation import build_request
from tests.test_dashboard import app_env  # noqa: F401 - a fixture


def run_in(store, settings, code, student_id, index):
    """A real submission in `code`, finished with one output, its packed token details and a cache entry."""
    request = build_request(settings, class_code=code, student=student_id, student_id=student_id,
                            prompt=f"{NOTEBOOK_PROMPT} {index}", configs=[{"strategy": "greedy", "max_new_tokens": 4}],
                            seed=1, model=settings.model)
    submit(store, settings, request)
    output = replace(make_output(index, code, student_id=student_id), id=f"{request.id}:0", submission_id=request.id)
    details = {output.id: PackedTokens(model=settings.model, finish_reason="length", token_ids=(1, 2),
                                       logprobs=(-0.5, -1.0))}
    publish(store, request, [output], details, {output.id: f"cache-{code}-{index}"})
    return request


def keys_mentioning(store, *fragments):
    return [k.decode() for k in store.redis.scan_iter(match=f"{store.keys.prefix}:*")
            if any(f in k.decode() for f in fragments)]


def test_a_closed_class_is_deleted_after_its_retention_and_the_others_stay(settings, store):
    open_class(store, "old-class")
    open_class(store, "live-class")
    gone = [run_in(store, settings, "old-class", f"s{i}", i) for i in range(3)]
    kept = run_in(store, settings, "live-class", "s1", 9)
    close_class(store, "old-class")
    closed_at = class_info(store, "old-class").closed_at
    assert deletion_time(class_info(store, "old-class"), settings) == closed_at + 30 * DAY_SECONDS
    assert purge_expired_classes(store, settings, now=closed_at + 29 * DAY_SECONDS) == []
    assert purge_expired_classes(store, settings, now=closed_at + 30 * DAY_SECONDS + 1) == ["old-class"]
    assert class_info(store, "old-class") is None
    assert keys_mentioning(store, "old-class", *[r.id for r in gone]) == []
    cached = [store.redis.get(store.keys.cache(f"cache-old-class-{i}")) for i in range(3)]
    assert cached == [None] * 3
    assert store.submission(kept.id) is not None and store.outputs([f"{kept.id}:0"])
    assert store.token_details(f"{kept.id}:0").token_ids == (1, 2)
    assert store.redis.get(store.keys.cache("cache-live-class-9")) is not None


def test_an_open_or_reopened_class_and_a_retention_of_zero_keep_everything(settings, store):
    open_class(store, "kept")
    request = run_in(store, settings, "kept", "s1", 1)
    close_class(store, "kept")
    later = class_info(store, "kept").closed_at + 365 * DAY_SECONDS
    assert purge_expired_classes(store, replace(settings, retention_days=0), now=later) == []
    open_class(store, "kept")  # reopened: no deletion date any more
    assert deletion_time(class_info(store, "kept"), settings) is None
    assert purge_expired_classes(store, settings, now=later) == []
    assert store.submission(request.id) is not None


def test_the_console_offers_the_export_beside_a_closed_classs_deletion_date(app_env, store, settings):  # noqa: F811
    import time

    from tests.test_dashboard_lesson import console

    close_class(store, "clase-test")
    date = time.strftime("%Y-%m-%d", time.localtime(class_info(store, "clase-test").closed_at + 30 * DAY_SECONDS))
    for lang, words in (("en", "will be deleted on"), ("es", "se borrarán el")):
        app = console(settings, lang)
        shown = [c.value for c in app.caption if date in c.value]
        assert shown and words in shown[0] and "CSV" in shown[0]
