"""`make bench-gallery`: is the gallery still fast with a big class? (10,000 outputs by default)

Fills a class in a fresh embedded Redis (or REDIS_URL, under its own prefix) with synthetic outputs
stored through the real `shared.services.gallery.publish` (so every index is built as in production), then
times what a gallery page does: a page of the newest outputs, a filtered and metric-sorted page, a text
search, the group summaries, the chart data, and a full render of the gallery page in Streamlit's
AppTest (median of several runs each). Prints a table and `gallery_page_render_s: <seconds>`.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from devtools.embedded_redis import EmbeddedRedis
from devtools.factories import make_output, store_outputs
from shared.contract.records import Item, Output, gallery_group
from shared.services.classes import join_class, open_class
from shared.services.gallery import GalleryQuery, chart_rows, class_stats, group_summaries, query
from shared.services.store import Store, redis_client

ROOT = Path(__file__).resolve().parent.parent
CLASS = "big-class"
WORDS = "model token sample greedy temperature nucleus git branch commit history example bullet".split()


def synthetic_output(index: int, rng: random.Random) -> Output:
    """One output of a big class, through the contract's factory (the group key is the real one)."""
    lab = "ablation" if index % 4 == 0 else "decoding"
    variant = rng.choice(["full", "without_bullets", "without_tone", "topic_only"]) if lab == "ablation" else ""
    output = make_output(
        index, CLASS, student=f"student{index % 300:03d}", student_id=f"student{index % 300:03d}", lab=lab,
        strategy="greedy" if index % 5 == 0 else "sampling", temperature=rng.choice([0.1, 0.3, 0.7, 1.0, 1.5]),
        text=" ".join(rng.choice(WORDS) for _ in range(60)), prompt=f"prompt {index % 7}", variant=variant,
        checks={"three_bullets": rng.random() < 0.3} if lab == "ablation" else None,
        tokens=rng.randint(20, 80), distinct=round(rng.random(), 3), loop=rng.random() < 0.2,
        perplexity=round(rng.uniform(5, 500), 2), model="random-tiny", finished_at=time.time() + index * 1e-4)
    config = replace(output.config, top_p=rng.choice([0.9, 1.0]), repetition_penalty=rng.choice([1.0, 1.1, 1.3, 1.5]))
    group_key, label = gallery_group(lab, Item(prompt=output.prompt, config=config, seed=index, variant=variant),
                                     "random-tiny")
    return replace(output, id=f"b{index}:0", submission_id=f"b{index}", config=config,
                   effective_config=config.effective(), group_key=group_key, label=label)


def timed(action, runs: int = 5) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def render_gallery(url: str, prefix: str, store: Store) -> float:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from shared.contract.settings import Settings
    from shared.services.moderation import membership_token

    os.environ.update({"REDIS_URL": url, "DECODELAB_PREFIX": prefix, "DECODELAB_DEMO_CLASS": ""})
    st.cache_resource.clear()
    me = join_class(store, CLASS, "student001")
    settings = Settings.from_env()
    app = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=60)
    app.session_state.class_code, app.session_state.student = CLASS, me.id
    app.session_state.membership = membership_token(store, settings, CLASS, me.id)
    app.run()
    app.switch_page("views/gallery.py")

    def run():
        app.run()
        assert not app.exception, app.exception
    return timed(run, runs=3)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="make bench-gallery ARGS=...", description=__doc__)
    parser.add_argument("--outputs", type=int, default=10_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        server = None if os.environ.get("REDIS_URL") else EmbeddedRedis(Path(tmp) / "redis").start()
        url = os.environ.get("REDIS_URL") or server.url
        prefix = f"gbench{os.getpid()}"
        store = Store(redis_client(url), prefix)
        try:
            open_class(store, CLASS)
            rng = random.Random(0)
            start = time.perf_counter()
            store_outputs(store, [synthetic_output(index, rng) for index in range(args.outputs)])
            fill = time.perf_counter() - start
            rows = {
                "newest page (20)": timed(lambda: query(store, CLASS, GalleryQuery())),
                "filtered + sorted page": timed(lambda: query(store, CLASS, GalleryQuery(
                    lab="decoding", student="student007", sort="perplexity"))),
                "text search page": timed(lambda: query(store, CLASS, GalleryQuery(search="nucleus git"))),
                "group summaries": timed(lambda: group_summaries(store, CLASS, class_stats(store, CLASS))),
                "chart data": timed(lambda: chart_rows(class_stats(store, CLASS))),
                "gallery page render (AppTest)": render_gallery(url, prefix, store),
            }
            memory = store.redis.info("memory")["used_memory"]
        finally:
            for key in store.redis.scan_iter(store.keys.everything()):
                store.redis.delete(key)
            if server:
                server.stop()
    print(f"gallery with {args.outputs} outputs (filled in {fill:.1f} s, Redis {memory / 1e6:.1f} MB)")
    for name, seconds in rows.items():
        print(f"  {name:<32} {seconds * 1000:8.1f} ms")
    print(f"gallery_page_render_s: {rows['gallery page render (AppTest)']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
