"""shared/contract/decoding.py: effective configs, labels, presets and validation of untrusted values."""

import math

import pytest

from shared.contract.decoding import GREEDY, PRESETS, DecodingConfig
from shared.contract.problems import Problem


def test_sampling_without_top_k_runs_with_transformers_default_50():
    effective = PRESETS["sampling_t03_p09"].effective()
    assert effective.top_k == 50 and effective.top_p == 0.9 and effective.temperature == 0.3
    assert PRESETS["sampling_t03_p09"].label() == "sampling · T 0.3 · top-p 0.9 · top-k 50 · rep 1.1 · 80 tok"


def test_greedy_ignores_warpers_so_equal_greedy_configs_group_together():
    a = DecodingConfig(strategy=GREEDY, temperature=0.2, top_k=3)
    b = DecodingConfig(strategy=GREEDY, temperature=1.7, top_p=0.5)
    assert a.group_key() == b.group_key()
    assert a.label() == "greedy · rep 1.1 · 80 tok"
    assert a.generate_kwargs() == {"do_sample": False, "max_new_tokens": 80, "repetition_penalty": 1.1}


def test_notebook_presets_use_its_helper_defaults():
    assert [p.repetition_penalty for p in PRESETS.values()] == [1.1, 1.1, 1.1]
    assert [p.max_new_tokens for p in PRESETS.values()] == [80, 80, 80]
    assert PRESETS["sampling_t1_k50"].generate_kwargs() == {
        "do_sample": True, "max_new_tokens": 80, "repetition_penalty": 1.1, "temperature": 1.0, "top_k": 50,
        "top_p": 1.0}


@pytest.mark.parametrize("field,value", [
    ("temperature", 0), ("temperature", -1), ("temperature", math.nan), ("temperature", math.inf),
    ("temperature", "hot"), ("top_p", 1.5), ("top_p", 0), ("top_k", -1), ("top_k", 2.5),
    ("max_new_tokens", 0), ("max_new_tokens", 5000), ("repetition_penalty", 0), ("strategy", "beam"),
])
def test_out_of_range_values_are_refused_with_the_field_named(field, value):
    with pytest.raises(Problem.Invalid) as refused:
        DecodingConfig.from_dict({field: value})
    problem = refused.value.problems[0]
    assert problem.params.get("field", "strategy") == field
    assert field in problem.message("en") or "strategy" in problem.message("en")


def test_several_faults_are_reported_together():
    with pytest.raises(Problem.Invalid) as refused:
        DecodingConfig.from_dict({"temperature": -1, "top_p": 2})
    assert {p.params["field"] for p in refused.value.problems} == {"temperature", "top_p"}


def test_round_trip_through_dict():
    config = DecodingConfig(strategy="sampling", temperature=0.7, top_k=None, top_p=0.9, max_new_tokens=500)
    assert DecodingConfig.from_dict(config.to_dict()) == config
