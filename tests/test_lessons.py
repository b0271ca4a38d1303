"""shared/teaching/lessons.py: the lesson format, its validation, answers and tallies (no Redis)."""

import pytest

from shared.contract.problems import Problem
from shared.teaching.lessons import (
    BUILT_IN_FOLDER,
    Blind,
    LessonError,
    Question,
    answer_text,
    clean_answer,
    load_file,
    load_folder,
    parse,
    tally,
)

MINIMAL = """
id = "mini"
title.es = "Mini"
title.en = "Mini"

[[steps]]
id = "one"
title.es = "Uno"
title.en = "One"
text.es = "Texto"
text.en = "Text"
"""


def test_the_built_in_lessons_load_and_carry_the_notebook():
    lessons, errors = load_folder(BUILT_IN_FOLDER)
    assert errors == []
    by_id = {lesson.id: lesson for lesson in lessons}
    assert set(by_id) == {"decoding", "tokens"}
    notebook = by_id["decoding"]
    ids = [step.id for step in notebook.steps]
    for activity in ("1.1", "2.1", "2.2", "2.3"):
        assert activity in ids
    assert any(i.startswith("1.2") for i in ids)
    everything = " ".join(s.text.es + s.text.en for s in notebook.steps)
    assert "entrenado principalmente en inglés" in everything and "trained mostly on English" in everything
    assert "más coherentes vs más creativos" in everything
    assert "más robustos" in everything and "ethical risks of generative AI" in everything
    assert len(notebook.objectives) >= 2
    kinds = {s.question.kind for s in notebook.steps if s.question}
    assert kinds == {"choice", "number", "text", "blind"}
    blind = next(s for s in notebook.steps if s.question and s.question.kind == "blind")
    assert blind.hide_results and len(blind.task.configs) == 3
    assert [c["temperature"] for c in blind.task.configs] == [0.1, 0.7, 1.5]


@pytest.mark.parametrize("change, field, line", [
    (lambda s: s.replace('id = "one"', 'id = "One Step"'), "steps[1].id", 7),
    (lambda s: s + '\n[steps.question]\nkind = "poll"\n', "steps[1].question.kind", 15),
    (lambda s: s.replace('text.en = "Text"', ""), "steps[1].text.en", None),
    (lambda s: s + '\n[steps.task]\nlab = "decoding"\nconfigs = [{ temperature = 9.0 }]\n', "steps[1].task.configs[1]", 6),
    (lambda s: s + '\n[steps.task]\nlab = "decoding"\nconfigs = [{ temprature = 0.5 }]\n', "steps[1].task.configs[1]", 6),
    (lambda s: s.split("[[steps]]")[0] + "steps = []\n", "steps", None),
])
def test_a_malformed_lesson_names_its_file_line_and_field(change, field, line, tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text(change(MINIMAL))
    with pytest.raises(LessonError) as raised:
        load_file(path)
    error = raised.value
    assert error.file == "broken.toml" and error.field == field
    if line:
        assert error.line is not None
    assert "broken.toml" in error.message("es") and field in error.message("en")
    assert error.message("es") != error.message("en")


def test_a_toml_syntax_error_names_its_line(tmp_path):
    path = tmp_path / "syntax.toml"
    path.write_text(MINIMAL.replace('text.es = "Texto"', 'text.es = "Texto'))
    with pytest.raises(LessonError) as raised:
        load_file(path)
    assert raised.value.line == 10 and "línea 10" in raised.value.message("es")


def test_a_broken_file_beside_good_ones_is_an_error_not_a_crash(tmp_path):
    (tmp_path / "a.toml").write_text(MINIMAL)
    (tmp_path / "b.toml").write_text("this is [not toml")
    (tmp_path / "c.toml").write_text(MINIMAL)  # the same id again
    (tmp_path / "d.toml").write_bytes(b"\xff\xfe")
    lessons, errors = load_folder(tmp_path)
    assert [lesson.id for lesson in lessons] == ["mini"]
    assert [e.file for e in errors] == ["b.toml", "c.toml", "d.toml"]


def test_a_blind_question_needs_a_task_with_configurations():
    source = MINIMAL + '\n[steps.question]\nkind = "blind"\ntext.es = "¿?"\ntext.en = "?"\n'
    with pytest.raises(LessonError) as raised:
        parse(source, "x.toml")
    assert raised.value.code == "blind_needs_configs"


CHOICE = Question("choice", parse(MINIMAL, "m").title, options=(parse(MINIMAL, "m").title,) * 3)


@pytest.mark.parametrize("value", [3, -1, True, "1", None, 1.0])
def test_a_choice_answer_outside_its_options_is_refused(value):
    with pytest.raises(Problem.Invalid):
        clean_answer(CHOICE, value)


def test_answers_are_cleaned_and_counted():
    assert clean_answer(CHOICE, 2) == 2
    number = Question("number", CHOICE.text, low=1.0, high=1.5, step=0.1)
    assert clean_answer(number, 1.2) == 1.2
    with pytest.raises(Problem.Invalid):
        clean_answer(number, 2)
    text = Question("text", CHOICE.text, max_chars=10)
    assert clean_answer(text, "  hola\u202e ") == "hola"
    with pytest.raises(Problem.Invalid) as raised:
        clean_answer(text, "x" * 11)
    assert raised.value.problems[0].code == "answer_too_long"
    assert tally(CHOICE, [0, 2, 2, 7, "x"]).counts == [1, 0, 2]


def test_a_blind_tally_counts_guesses_per_text_and_the_right_ones():
    blind = Blind(("a", "b", "c"), (2, 0, 1))
    question = Question("blind", CHOICE.text)
    result = tally(question, [[2, 0, 1], [2, 1, 0], [0, 0, 0], [1, 2]], blind)
    assert result.answered == 3
    assert result.guesses[0] == [1, 0, 2] and result.correct == [2, 2, 1]
    assert answer_text(question, [2, 0, 1], "en", ["T 0.1", "T 0.7", "T 1.5"]) == "1 → T 1.5; 2 → T 0.1; 3 → T 0.7"


def test_the_dashboard_image_ships_the_built_in_lessons():
    image = (BUILT_IN_FOLDER.parent / "docker" / "dashboard.Dockerfile").read_text()
    assert "COPY lessons/ lessons/" in image  # BUILT_IN_FOLDER is resolved beside shared/, as in the image
