"""shared/contract/i18n.py: every string exists in both languages, with the same placeholders."""

import re
import string

from shared.contract.i18n import LANGUAGES, TEXT, t


def test_every_entry_has_both_languages_with_the_same_placeholders():
    for key, entry in TEXT.items():
        assert set(entry) == set(LANGUAGES), key
        fields = [{f for _, f, _, _ in string.Formatter().parse(entry[lang]) if f} for lang in LANGUAGES]
        assert fields[0] == fields[1], key


def test_unknown_key_shows_itself_and_bad_params_do_not_crash():
    assert t("no.such.key", "es") == "no.such.key"
    assert "{field}" in t("problem.not_a_number", "en")


def test_spanish_and_english_differ():
    assert t("decoding.run", "es") == "Ejecutar" and t("decoding.run", "en") == "Run"
    assert re.search("contexto", t("problem.prompt_too_long_tokens", "es", prompt_tokens=1, max_new_tokens=2,
                                   context=3))
