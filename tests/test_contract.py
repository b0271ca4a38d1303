"""shared/contract: the records' JSON forms, the key layout and its documentation (fast tier: no Redis)."""

import inspect
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from devtools.factories import make_output, make_request
from shared.contract import keys as keys_module
from shared.contract.decoding import GREEDY, DecodingConfig
from shared.contract.keys import Keys
from shared.contract.problems import Problem
from shared.contract.records import (
    ABLATION,
    ClassInfo,
    Item,
    Output,
    OutputStats,
    Request,
    StudentInfo,
    Submission,
    TokenDetails,
    TokenStep,
    WorkerInfo,
    gallery_group,
)

ROOT = Path(__file__).resolve().parent.parent


def test_every_key_is_documented_in_the_layout_table_as_it_is_built():
    table = keys_module.__doc__
    keys = Keys("{p}")
    for name, method in inspect.getmembers(keys, inspect.ismethod):
        if name.startswith("_") or name.endswith("pattern") or name == "everything":
            continue
        params = list(inspect.signature(method).parameters)
        placeholders = {"code": "{code}", "student_id": "{student id}", "submission_id": "{id}", "request_id": "{id}",
                        "output_id": "{output id}", "digest": "{digest}", "name": "{name}", "kind": "{kind}",
                        "minute": "{minute}", "browser": "{hash}", "model": "{model}",
                        "question": "{question}"}
        if name == "index":
            built = [method("{code}", index, "{x}") for index in keys_module.INDEXES]
            assert all(re.sub(r"\{x\}$", "", key) in table for key in built), built
            continue
        key = method(*[placeholders[p] for p in params])
        assert key in table or key.replace("{digest}", "{hash}") in table, f"{name}: {key} is not in the table"


def test_no_module_builds_a_key_from_fragments():
    fragment = re.compile(r"""\.(key|class_key|student_key|submission_key|output_key)\(|f["'][^"']*\{[a-z_.]*prefix\}:""")
    for folder in ("shared", "dashboard", "worker", "bench", "scripts", "devtools"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name != "keys.py":
                assert not fragment.search(path.read_text()), path


def test_a_gallery_index_must_be_one_the_gallery_has():
    with pytest.raises(ValueError):
        Keys().index("c", "password", "x")


def test_a_request_round_trips_through_its_json_form_and_reads_old_records():
    request = make_request("c", items=[Item("P", DecodingConfig(temperature=0.7), 3, variant="full")],
                           checks=({"id": "three_bullets"},), topic="git")
    assert Request.from_dict(json.loads(json.dumps(request.to_dict()))) == request
    old = {k: v for k, v in request.to_dict().items() if k != "student_id"}  # stored before student ids
    assert Request.from_dict(old).student_id == request.student


@pytest.mark.parametrize("damage", [
    lambda d: {k: v for k, v in d.items() if k != "id"}, lambda d: {**d, "items": "not a list"},
    lambda d: {**d, "items": [{"prompt": "hi", "config": "not a dict", "seed": 1}]},
    lambda d: {**d, "class_code": 7}, lambda d: {**d, "checks": ["not a dict"]}, lambda d: [d]])
def test_a_damaged_request_is_refused_as_malformed(damage):
    with pytest.raises(Problem.Invalid) as refused:
        Request.from_dict(damage(make_request("c").to_dict()))
    assert refused.value.problems[0].code == "malformed_request"


def test_a_submission_round_trips_through_its_redis_hash():
    submission = replace(Submission.new(make_request("c")), status="failed", attempts=2,
                         error=Problem("timed_out", seconds=3), outputs=("r1:0",))
    raw = {k.encode(): str(v).encode() for k, v in submission.to_hash().items()}
    assert Submission.from_hash(raw) == submission
    assert not Submission.from_hash(raw).active and Submission.new(make_request("c")).active


def test_an_output_round_trips_and_its_flat_row_feeds_the_stats():
    output = make_output(4, "c", checks={"three_bullets": True}, tokens=12)
    assert Output.from_dict(json.loads(json.dumps(output.to_dict()))) == output
    stats = output.stats()
    assert OutputStats.from_dict(json.loads(json.dumps(stats.to_dict()))) == stats
    assert (stats.tokens, stats.checks, stats.group, stats.top_k) == (12, {"three_bullets": True}, output.group_key, 50)
    assert output.flat()["temperature"] == output.effective_config.temperature


def test_token_details_round_trip():
    details = TokenDetails((1, 2), (-0.1, -2.0), "length",
                           (TokenStep(" a", -0.1, 0.9, ((" a", 0.9),), ((" a", 1.0),)), TokenStep(" b", -2.0)))
    assert TokenDetails.from_dict(json.loads(json.dumps(details.to_dict()))) == details


def test_worker_info_round_trips_and_an_idle_worker_generates_nothing():
    info = WorkerInfo(name="w1", model="m", tokens_per_s=120.5, in_flight=0, random_weights=True)
    assert WorkerInfo.from_dict(json.loads(json.dumps(info.to_dict()))) == info
    assert info.consistent().tokens_per_s == 0.0 and replace(info, in_flight=2).consistent().tokens_per_s == 120.5


def test_gallery_groups_name_the_variant_only_in_the_ablation_lab():
    item = Item("P", DecodingConfig(strategy=GREEDY), 1, variant="full")
    assert gallery_group("decoding", item, "m") == ("m|greedy|rep=1.1|max=80", "greedy · rep 1.1 · 80 tok · m")
    key, label = gallery_group(ABLATION, item, "m")
    assert key == "m|ablation|full|greedy|rep=1.1|max=80" and label.startswith("full · greedy")


def layout_rows() -> list[tuple[str, str, str]]:
    """(key pattern, type, what it holds) of each row of keys.py's layout table."""
    rows = []
    for line in keys_module.__doc__.splitlines():
        if line.startswith("    {p}:"):
            key, kind, rest = re.fullmatch(r"    (.+?) {2,}(\S+) +(.*)", line).groups()  # keys hold single spaces
            rows.append((key, kind, rest))
    return rows


def test_the_layout_table_names_only_records_that_exist():
    from shared.contract import packed_tokens, records
    from shared.services import lessons

    named = {word for _, _, holds in layout_rows() for word in re.findall(r"\b([A-Z]\w+)(?= JSON\b| bytes\b|:)", holds)}
    assert {"ClassInfo", "StudentInfo", "WorkerInfo", "Submission", "Output", "PartialText", "Answer"} <= named
    for name in named:
        assert any(hasattr(module, name) for module in (records, packed_tokens, lessons)), name


def test_class_and_student_records_round_trip_and_read_what_older_code_stored():
    info = ClassInfo(created_at=1.0, open=False, locked=True, expected=30, closed_at=2.0)
    assert ClassInfo.from_dict(json.loads(json.dumps(info.to_dict()))) == info
    assert ClassInfo.from_dict({"created_at": 5, "open": True}) == ClassInfo(created_at=5.0, open=True)
    assert ClassInfo(created_at=5.0, open=True).to_dict() == {"created_at": 5.0, "open": True, "locked": False,
                                                             "expected": 0}
    student = StudentInfo(name="María", label="María · 2", joined_at=3.0, rejoin=2, removed_at=4.0)
    assert StudentInfo.from_dict(json.loads(json.dumps(student.to_dict()))) == student
    assert StudentInfo.from_dict({"name": "Ana", "label": "Ana", "joined_at": 1}) == StudentInfo("Ana", "Ana", 1.0)
    with pytest.raises(Problem.Invalid):
        StudentInfo.from_dict({"name": "Ana", "joined_at": 1})  # no label: damaged


def test_every_key_a_class_session_writes_has_the_type_the_layout_table_says(store, settings, connection):
    """A class's session through the services (join, submit, publish, moderate, a lesson, a worker); then
    every key under the prefix is matched to its row of the table and Redis's TYPE compared with it."""
    from devtools.factories import store_outputs
    from shared.contract.records import PartialText
    from shared.services import lessons, workers
    from shared.services.classes import Knock, join_class
    from shared.services.gallery import GalleryQuery, publish, query
    from shared.services.moderation import (
        log_in_instructor,
        server_secret,
        set_comment,
        set_hidden,
        set_star,
    )
    from shared.services.roster import remove_students
    from shared.services.sessions import revoke
    from shared.services.submit import submit
    from shared.services.validation import build_request
    from shared.teaching.lessons import BUILT_IN_FOLDER, load_folder
    from tests.conftest import TEST_CLASS

    code, prefix = TEST_CLASS, settings.key_prefix
    token = log_in_instructor(store, settings, settings.instructor_password, "s", "10.0.0.1", browser="b").token
    log_in_instructor(store, settings, "wrong", "s", "10.0.0.2")
    server_secret(store, settings)
    ana = join_class(store, code, "Ana", knock=Knock(browser="b1", address="10.0.0.3"))
    bea = join_class(store, code, "Bea")
    request = build_request(settings, class_code=code, student="Ana", student_id=ana.id, prompt="Hola",
                            configs=[{"strategy": "greedy", "max_new_tokens": 4}], seed=1, model=settings.model,
                            checks=[{"id": "custom", "kind": "regex", "pattern": "a+"}])
    submit(store, settings, request)
    store.set_progress({request.id: 1}, {request.id: [PartialText(0, "x", 1)]})
    store.request_cancel(request.id)
    store.save_vocabulary("m", ["a", "b"])
    store.complete_exploration(make_request(code, id="explore-1"), b"\0\0\0\0", [1], {"1": "b"})
    first = make_output(0, code, student_id=ana.id)
    publish(store, make_request(code, id=first.submission_id, student_id=ana.id), [first],
            details={first.id: TokenDetails((1,), (-0.1,), "length")}, cache_keys={first.id: "d" * 64})
    store_outputs(store, [make_output(1, code, student_id=bea.id)])
    query(store, code, GalleryQuery(lab="decoding"))
    set_star(store, settings, token, code, "s0:0", True)
    set_hidden(store, settings, token, code, "s1:0", True)
    set_comment(store, settings, token, code, "s0:0", "mirad")
    found, _ = load_folder(BUILT_IN_FOLDER)
    notebook = next(lesson for lesson in found if lesson.id == "decoding")
    lessons.start(store, settings, token, code, notebook)
    lessons.go_to(store, settings, token, code, [s.id for s in notebook.steps].index("1.2-predict"))
    lessons.open_question(store, settings, token, code)
    lessons.answer(store, ana, lessons.current(store, code).question_key, 1)
    workers.announce(store, WorkerInfo(name="w1", model="m"), ttl=60)
    revoke(store, "sign-in", until=9e9)
    remove_students(store, settings, token, code, [bea.id])

    rows = [(len(re.sub(r"\{[^}]*\}", "", key)), key, _pattern(key, prefix), kind) for key, kind, _ in layout_rows()]
    seen = set()
    for raw in connection.scan_iter(match=f"{prefix}:*"):
        key = raw.decode()
        matching = [(literal, row, kind) for literal, row, pattern, kind in rows if pattern.fullmatch(key)]
        assert matching, f"{key} is in no row of the layout table"
        _, row, kind = max(matching)  # the most specific row: ...:joins:browser:{hash} over ...:joins:{minute}
        assert connection.type(key).decode() == kind, f"{key}: Redis says {connection.type(key)}, the table {kind}"
        seen.add(row)
    not_left = {"{p}:submitting:{code}:{student id}",  # the submit lock, released by now
                "{p}:model:{model}"}                   # RQ's queue: its keys are under rq:*
    assert {row for _, row, _, _ in rows} - seen == not_left


def _pattern(key: str, prefix: str) -> re.Pattern:
    """A layout row's key as a regex: `{p}` is the prefix, any other placeholder one or more characters."""
    parts = re.split(r"(\{[^}]*\})", key)
    return re.compile("".join(re.escape(prefix) if part == "{p}" else ".+" if part.startswith("{") else re.escape(part)
                              for part in parts))
