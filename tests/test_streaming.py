"""Text appears as it is generated: the worker publishes each generation's text so far at its progress
pace, and a generation that ends is complete on the page while the others of its submission still run.
Real Redis, a real worker process with random-tiny, the page's own read (`progress`)."""

from __future__ import annotations

import time

from shared.contract.decoding import NOTEBOOK_PROMPT
from shared.contract.records import DONE, RUNNING, PartialText
from shared.services.gallery import publish
from shared.services.progress import progress, wait_for_first_words
from shared.services.submit import submit
from shared.services.validation import build_request
from tests.conftest import TEST_CLASS

SHORT, LONG = 6, 400  # tokens: one card ends long before the other


def mixed_request(settings, seed=7):
    configs = [{"strategy": "sampling", "temperature": 1.0, "top_k": 50, "max_new_tokens": SHORT},
               {"strategy": "sampling", "temperature": 1.0, "top_k": 50, "max_new_tokens": LONG}]
    return build_request(settings, class_code=TEST_CLASS, student="ana", prompt=NOTEBOOK_PROMPT, configs=configs,
                         seed=seed, model=settings.model)


def watch_until_done(store, settings, submission_id: str, timeout: float = 400.0) -> list:
    """Every running view the page could have seen, polled as a page does (faster, to see more of them)."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = progress(store, settings, submission_id)
        if view.status == DONE:
            return seen
        if view.status == RUNNING:
            seen.append(view)
        time.sleep(0.05)
    raise AssertionError("the submission did not finish")


def test_text_grows_while_generating_and_a_finished_card_is_complete_before_the_rest(settings, store, workers):
    request = mixed_request(settings)
    submit(store, settings, request)
    workers.start("--burst", DECODELAB_TORCH_THREADS="1")
    seen = watch_until_done(store, settings, request.id)
    outputs = store.submission_outputs(request.id)
    short, long = outputs
    streamed = [view.partial for view in seen if view.partial]
    assert streamed, "no text was published while the submission ran"
    # The long generation's text grew over several publications, always a prefix of the final text.
    lengths = [p[1].tokens for p in streamed if not p[1].done]
    assert len(set(lengths)) >= 2 and lengths == sorted(lengths), lengths
    for partial in streamed:
        assert long.text.startswith(partial[1].text)
    # The short one was shown complete, with its final text, while the long one was still being written.
    early = [p for p in streamed if p[0].done and not p[1].done]
    assert early, "the short card was not complete before the long one ended"
    assert early[0][0].text == short.text and early[0][0].tokens == short.new_tokens
    assert all(v.request is not None and v.request.id == request.id for v in seen)
    # Once the outputs are stored, they say it all: the streamed text is gone.
    assert not store.redis.exists(store.keys.partial(request.id))
    assert progress(store, settings, request.id).partial == ()



def test_waiting_for_the_first_words_ends_at_them_at_the_end_or_at_its_deadline(settings, store):
    request = mixed_request(settings, seed=8)
    submit(store, settings, request)
    started = time.monotonic()
    assert not wait_for_first_words(store, request.id, 0.3, look=0.05)  # queued, nobody writes: time runs out
    assert 0.3 <= time.monotonic() - started < 5
    store.mark_running(request.id, "w-test")
    assert not store.has_words_or_ended(request.id)  # taken, no word yet
    store.set_progress({request.id: 1}, {request.id: [PartialText(0, "Once", 1), PartialText(1, "", 0)]})
    assert wait_for_first_words(store, request.id, 30)
    ended = mixed_request(settings, seed=9)
    submit(store, settings, ended)
    publish(store, ended, [])  # finished without a word streamed (a fast run): nothing left to wait for
    assert wait_for_first_words(store, ended.id, 30)
