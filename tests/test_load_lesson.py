"""`make load-lesson` in miniature: a few students vote (some twice, some changing their mind) while the
protocol client's presentation page follows the tally; nothing is lost or counted twice."""

import json

from bench.load_lesson import main


def test_a_few_students_vote_and_the_presentation_page_shows_every_vote_once(tmp_path, capsys):
    out = tmp_path / "figures.json"
    main(["--students", "6", "--window", "1.5", "--retries", "0.5", "--changes", "0.5", "--followers", "2",
          "--measure", "2", "--out", str(out)])  # its exit status holds the speed target: not asserted here
    figures = json.loads(out.read_text())
    printed = capsys.readouterr().out
    assert "votes_lost: 0" in printed and "votes_duplicated: 0" in printed and "tally_p95_s: " in printed
    assert figures["shown"] == 6 and figures["vote_errors"] == 0
    assert figures["tally_p95_s"] is not None
    assert figures["step_push_missed"] == 0 and figures["step_push_p95_s"] is not None  # the next step reached both
