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
    Item,
    Output,
    OutputStats,
    Request,
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
