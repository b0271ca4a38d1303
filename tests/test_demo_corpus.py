"""worker/demo_corpus.py: each Debian package's markup becomes plain prose, boilerplate goes, and the
default sources hold no scripture and include Git's documentation (the notebook's exercise 2 topic)."""

import gzip

import pytest

from bench.demo_ablation import check_spread_points, memorized_8gram_share, mentions_topic
from worker.demo_corpus import asciidoc_sections, drop_boilerplate, html_sections, read_text, roff_sections

pytestmark = pytest.mark.fast

ASCIIDOC = """git-commit(1)
=============

NAME
----
git-commit - Record changes to the repository

SYNOPSIS
--------
[verse]
'git commit' [-a | --interactive]

DESCRIPTION
-----------
Create a new commit containing the current contents of the index, as
described in linkgit:git-checkout[1]. Use `git add` first.

1. by using linkgit:git-add[1] to incrementally "add" changes
   to the index;
2. by using the -a switch.

------------
$ git commit -a
------------

   $ an indented literal block

-a::
--all::
	Tell the command to stage files.
include::i18n.txt[]

GIT
---
Part of the linkgit:git[1] suite
"""


def test_asciidoc_keeps_prose_and_lists_and_drops_markup_listings_and_synopsis():
    sections = asciidoc_sections(ASCIIDOC)
    text = "\n".join(sections)
    assert "DESCRIPTION.\nCreate a new commit containing the current contents of the index, as described in " \
           "git-checkout. Use git add first." in text
    assert '- by using git-add to incrementally "add" changes to the index;\n- by using the -a switch.' in text
    assert "-a, --all:\nTell the command to stage files." in text or "-a, --all: Tell the command" in text
    for gone in ("$ git commit", "indented literal", "[verse]", "--interactive]", "include::", "linkgit",
                 "Part of the", "----", "`"):
        assert gone not in text, gone


HTML = """<html><body><div class="toc"><p>1.1. Table of contents</p></div>
<h2 class="title">1.2. Filesystem</h2><p>Files are <code>organized</code> in a <em>tree</em>.</p>
<div class="itemizedlist"><ul><li><p>one item</p></li><li><p>another item</p></li></ul></div>
<pre class="screen">$ ls -l</pre><table><tr><td><p>a table cell</p></td></tr></table>
<h3>1.2.1. Links</h3><p>A link &amp; its target (see Section 1.2.3, “Hard links”).</p></body></html>"""


def test_html_keeps_paragraphs_and_items_per_section_without_tables_listings_or_contents():
    # Section numbers ("1.2.1.", "Section 1.2.3,") go: the model strung them into "-8.2.5.4.3.6." lines.
    assert html_sections(HTML) == ["Filesystem.\nFiles are organized in a tree.\n- one item\n- another item",
                                   "Links.\nA link & its target (see “Hard links”)."]


ROFF = r""".\" A comment
.TH LS 1 "2022" "GNU coreutils" "Órdenes de usuario"
.SH NOMBRE
ls \- lista el contenido de un directorio
.SH SINOPSIS
\fBls\fP [\fI\,OPCIÓN\/\fP]...
.SH DESCRIPCIÓN
.PP
Por defecto, muestra información de los \fBARCHIVO\fP del
directorio actual.
.TP
\fB\-a\fP, \fB\-\-all\fP
no oculta las entradas que comienzan con .
.IP \(bu 2
un elemento\h'-04'
.TS
l l.
T{
Llamadas al sistema
T}	2
.TE
.nf
ls \-l /tmp
.fi
.SH TRADUCCIÓN
La traducción al español fue creada por...
"""


def test_roff_keeps_prose_and_terms_and_drops_escapes_examples_and_translator_notes():
    sections = roff_sections(ROFF)
    assert sections == ["Nombre.\nls - lista el contenido de un directorio",
                        "Descripción.\nPor defecto, muestra información de los ARCHIVO del directorio actual.\n"
                        "-a, --all: no oculta las entradas que comienzan con .\n- un elemento"]


def test_read_text_reads_gzipped_manual_pages(tmp_path):
    page = tmp_path / "ls.1.gz"
    page.write_bytes(gzip.compress("ls \\- lista el contenido según".encode()))
    assert read_text(page) == "ls \\- lista el contenido según"


def test_paragraphs_repeated_across_a_source_are_boilerplate_and_short_sections_go():
    notice = "This program is free software; you can redistribute it."
    prose = [f"Section {i}. " + " ".join(f"word{i}x{j}" for j in range(25)) for i in range(4)]
    sections = [f"{p}\n{notice}" for p in prose] + ["Too short to teach anything."]
    assert drop_boilerplate(sections) == prose


def test_default_sources_are_debian_technical_prose_with_gits_documentation_and_no_scripture():
    from scripts.train_demo_model import SOURCES

    assert {"git-doc", "debian-reference-en", "debian-reference-es", "manpages-es"} == set(SOURCES)
    assert {s.language for s in SOURCES.values()} == {"en", "es"}
    assert abs(sum(s.share for s in SOURCES.values()) - 1) < 1e-9
    assert not any("sword" in s.package or "bible" in s.package.lower() for s in SOURCES.values())


def test_ablation_figures_count_what_the_targets_name():
    assert mentions_topic("Use Git to keep every model version.") and not mentions_topic("digital gits")
    rows = {"full": {"topic mention": 0.5, "three_bullets": 0.30, "not_an_echo": 1.0},
            "topic_only": {"topic mention": 0.9, "three_bullets": 0.05, "not_an_echo": 0.95}}
    assert check_spread_points(rows) == pytest.approx(25)  # topic mention is not a check
    training = ["the index holds the contents of the next commit and nothing else at all"]
    outputs = ["so the index holds the contents of the next commit today", "the index holds the contents of "
               "the next commit too", "a different text entirely with no long shared run of eight words"]
    share, gram = memorized_8gram_share(outputs, training)
    assert share == pytest.approx(2 / 3) and len(gram.split()) == 8 and gram in training[0] and gram in outputs[1]
    assert memorized_8gram_share(outputs[2:], training) == (0.0, "")


def test_a_source_reads_its_package_files_and_says_how_to_install_a_missing_one(tmp_path):
    from scripts.train_demo_model import Source

    (tmp_path / "git-commit.txt").write_text(ASCII_DOC_WITH_PROSE)
    source = Source("en", 1.0, "git-doc", "GPL-2", (f"{tmp_path}/*.txt",), asciidoc_sections)
    first, second = ASCII_DOC_WITH_PROSE.split("\n\n")
    assert source.sections() == [first + "\n" + " ".join(second.split())]  # one section, wrapped lines joined
    missing = Source("en", 1.0, "git-doc", "GPL-2", (f"{tmp_path}/nothing/*.txt",), asciidoc_sections)
    with pytest.raises(SystemExit, match="make demo-text"):
        missing.sections()


ASCII_DOC_WITH_PROSE = ("Git is a fast, scalable, distributed revision control system with an unusually rich command set\n\n"
                        "that provides both high-level operations and full access to internals, and it keeps every\n"
                        "version of every file of a project, so that any earlier state can be restored at any time.\n")


def test_the_budget_covers_the_whole_command_so_a_busy_machine_trains_less_but_finishes_on_time():
    from scripts.train_demo_model import AFTER_TRAINING_SECONDS, training_seconds

    quiet, busy = training_seconds(510, spent=30), training_seconds(510, spent=200)
    assert quiet == 510 - 30 - AFTER_TRAINING_SECONDS and busy == quiet - 170
    assert training_seconds(510, spent=600) == 60  # still trains a minute rather than not at all


def test_each_checks_difference_is_printed_with_its_margin_so_a_20_point_spread_from_noise_reads_as_noise():
    from bench.demo_ablation import check_differences

    rows = {"full": {"topic mention": 0.5, "no_jargon": 0.5, "valid_json": 0.0},
            "topic_only": {"topic mention": 0.9, "no_jargon": 0.3, "valid_json": 0.0}}
    differences = check_differences(rows, samples=20)
    assert set(differences) == {"no_jargon", "valid_json"}
    value, margin = differences["no_jargon"]
    assert value == pytest.approx(20) and margin == pytest.approx(29.7, abs=0.1)  # 20 points, within noise
    assert check_differences(rows, samples=2000)["no_jargon"][1] == pytest.approx(2.97, abs=0.01)
    assert differences["valid_json"] == (0.0, 0.0)


def test_loops_are_also_counted_over_openings_of_held_out_paragraphs_never_trained_on():
    from bench.demo_teaches import held_out_openings

    prose = "one two three four five six seven eight nine ten eleven"
    sections = {"a": [f"Title {i}.\n{i} {prose}\nshort line" for i in range(120)]}  # 0, 50, 100 are held out
    assert held_out_openings(sections, per_source=2) == ["0 one two three four", "50 one two three four"]
    assert held_out_openings(sections, per_source=5) == [f"{i} one two three four" for i in (0, 50, 100)]
