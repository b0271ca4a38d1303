"""Property tests (hypothesis): validators never crash on anything, and the store keeps any text as is."""


from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from devtools.factories import make_output, store_outputs
from shared.contract.decoding import DecodingConfig
from shared.contract.problems import Problem
from shared.services.validation import build_request
from tests.conftest import TEST_CLASS

ANY_VALUE = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                      st.text(max_size=20), st.binary(max_size=10), st.lists(st.integers(), max_size=3))
CONFIG = st.dictionaries(st.sampled_from(["strategy", "temperature", "top_k", "top_p", "repetition_penalty",
                                          "max_new_tokens", "seed", "extra"]), ANY_VALUE, max_size=8)
FUZZ = hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(config=CONFIG)
def test_decoding_config_accepts_or_explains_never_crashes(config):
    try:
        parsed = DecodingConfig.from_dict(config)
    except Problem.Invalid as invalid:
        assert invalid.problems and all(p.message("es") and p.message("en") for p in invalid.problems)
    else:
        assert 0 < parsed.temperature <= 5 and 1 <= parsed.max_new_tokens <= 1000


@FUZZ
@given(prompt=st.one_of(st.text(max_size=300), ANY_VALUE), configs=st.lists(CONFIG, max_size=4), seed=ANY_VALUE)
def test_build_request_accepts_or_explains_never_crashes(settings, prompt, configs, seed):
    try:
        request = build_request(settings, class_code=TEST_CLASS, student="fuzz", prompt=prompt, configs=configs,
                                seed=seed, model=settings.model)
    except Problem.Invalid as invalid:
        assert all(p.message("en") for p in invalid.problems)
    else:
        assert request.items and request.prompt.strip()


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=400), student=st.text(min_size=1, max_size=40))
def test_store_keeps_any_output_text_and_name_exactly(store, text, student):
    output_id = f"fuzz{abs(hash((text, student)))}:0"
    output = make_output(0, TEST_CLASS, id=output_id, submission_id=output_id[:-2], student=student, prompt=text,
                         text=text)
    store_outputs(store, [output])
    assert store.outputs([output_id])[0].text == text
    assert store.outputs([output_id])[0].student == student
