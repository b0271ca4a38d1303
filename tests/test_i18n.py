"""The texts, es and en: the contract's (shared/contract/i18n.py: what the worker and shared/ say too) and
the pages' (dashboard/texts.py). Every string exists in both languages, with the same placeholders."""

import re
import string

import pytest

from dashboard import texts
from shared.contract import i18n
from shared.contract.i18n import LANGUAGES


@pytest.mark.parametrize("table", [i18n.TEXT, texts.TEXT], ids=["contract", "pages"])
def test_every_entry_has_both_languages_with_the_same_placeholders(table):
    for key, entry in table.items():
        assert set(entry) == set(LANGUAGES), key
        fields = [{f for _, f, _, _ in string.Formatter().parse(entry[lang]) if f} for lang in LANGUAGES]
        assert fields[0] == fields[1], key


def test_no_key_is_in_both_tables():
    assert not set(i18n.TEXT) & set(texts.TEXT)


@pytest.mark.parametrize("t", [i18n.t, texts.t], ids=["contract", "pages"])
def test_unknown_key_shows_itself_and_bad_params_do_not_crash(t):
    assert t("no.such.key", "es") == "no.such.key"
    assert "{field}" in t("problem.not_a_number", "en")


def test_spanish_and_english_differ():
    assert texts.t("decoding.run", "es") == "Ejecutar" and texts.t("decoding.run", "en") == "Run"
    assert re.search("contexto", i18n.t("problem.prompt_too_long_tokens", "es", prompt_tokens=1, max_new_tokens=2,
                                        context=3))


def test_the_contract_holds_only_what_both_sides_say():
    """Problems, fields, configurations, check details and lesson-file errors: shared/ and the worker say
    them. Page copy stays with the dashboard."""
    shared_prefixes = ("problem.", "field.", "config.", "checkdetail.", "jsonreason.", "lessonfile.")
    assert all(key.startswith(shared_prefixes) for key in i18n.TEXT)
    assert not any(key.startswith(shared_prefixes) for key in texts.TEXT)
