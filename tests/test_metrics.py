"""shared/teaching/metrics.py on hand-made texts."""

import math

import pytest

from shared.teaching.metrics import (
    distinct_n,
    log_prob_summary,
    longest_run,
    looping,
    output_metrics,
    repeated_share,
    words,
)


def test_distinct_n_counts_unique_ngrams_over_all():
    assert distinct_n(words("the cat saw the dog"), 1) == pytest.approx(4 / 5)
    assert distinct_n(words("the cat saw the dog"), 2) == 1.0
    assert distinct_n(words("a a a a"), 2) == pytest.approx(1 / 3)
    assert distinct_n(words("one"), 2) is None


def test_repeated_trigrams_and_loops():
    loop = "I think that I think that I think that I think that"
    assert repeated_share(words(loop), 3) == pytest.approx(7 / 10)
    assert longest_run(words(loop)) == (3, 4)
    assert looping(words(loop))
    varied = "Git keeps every version of a model's training code, so experiments can be compared."
    assert repeated_share(words(varied), 3) == 0.0 and not looping(words(varied))
    assert looping(words("no no no no"))  # a one-word loop


def test_a_sentence_said_twice_is_a_loop_as_a_reader_sees_it():
    """The notebook's greedy preset says a 19-word sentence, then says it again: that is the loop students
    see, whatever its period (longer than any back-to-back block the old rule looked for)."""
    sentence = ("The first thing you notice is that the machines are not the only ones who are able to "
                "see the world.")
    assert len(words(sentence)) == 21
    assert looping(words(f"{sentence} {sentence}"))
    assert looping(words(f"In a distant future. {sentence} And then {sentence} And"))
    once = "Humans and machines shared the work; each new season brought other tools, other songs and other fears."
    assert not looping(words(once))


def test_perplexity_is_exp_of_minus_mean_logprob():
    summary = log_prob_summary([math.log(0.5), math.log(0.25)])
    assert summary["perplexity"] == pytest.approx(math.exp(-(math.log(0.5) + math.log(0.25)) / 2), rel=1e-3)
    assert log_prob_summary([]) == {"mean_logprob": None, "perplexity": None}


def test_output_metrics_bundle():
    metrics = output_metrics("Hello hello world", 4, "eos", [-1.0, -1.0, -1.0, -1.0])
    assert metrics["words"] == 3 and metrics["tokens"] == 4 and metrics["stopped_by"] == "eos"
    assert metrics["distinct_1"] == pytest.approx(0.667) and metrics["perplexity"] == pytest.approx(math.e, rel=1e-3)
