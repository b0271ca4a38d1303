"""shared/contract/decoding.py as the class reads it: the effective config in one plain line, and validation
messages that name the field as the page labels it and the table row it comes from."""

import pytest

from shared.contract.decoding import PRESETS, DecodingConfig, config_summary
from shared.contract.problems import Problem


def test_the_summary_names_only_what_ran():
    greedy = DecodingConfig(strategy="greedy", temperature=0.3, top_k=5, top_p=0.5).effective().to_dict()
    assert config_summary(greedy, "es") == "greedy · rep 1.1 · 80 tok"  # greedy ignores T, top-k, top-p
    nucleus = PRESETS["sampling_t03_p09"].effective().to_dict()
    assert config_summary(nucleus, "en") == "sampling · T 0.3 · top-p 0.9 · top-k 50 · rep 1.1 · 80 tok"
    no_cut = DecodingConfig(top_k=0, temperature=1.5).effective().to_dict()
    assert config_summary(no_cut, "es") == "sampling · T 1.5 · sin top-k · rep 1.1 · 80 tok"
    assert "=" not in config_summary(nucleus, "es") and "{" not in config_summary(nucleus, "es")


def test_every_label_is_its_configs_summary():
    for preset in PRESETS.values():
        assert config_summary(preset.effective().to_dict(), "en") == preset.label()


def test_a_bad_value_names_the_field_in_spanish_and_its_row():
    with pytest.raises(Problem.Invalid) as refused:
        DecodingConfig.from_dict({"temperature": 9, "top_k": 2.5}, row=2)
    assert refused.value.messages("es") == ["Fila 2: «temperatura» debe estar entre 0.01 y 5.0.",
                                            "Fila 2: top_k debe ser un número entero."]
    assert refused.value.messages("en")[0] == "Row 2: temperature must be between 0.01 and 5.0."
    assert refused.value.problems[0].params["field"] == "temperature"  # the code stays for programs


def test_without_a_row_the_message_stands_alone():
    with pytest.raises(Problem.Invalid) as refused:
        DecodingConfig.from_dict({"temperature": 9})
    assert refused.value.messages("es") == ["«temperatura» debe estar entre 0.01 y 5.0."]
    assert Problem.from_dict(refused.value.problems[0].to_dict()) == refused.value.problems[0]
