"""The demo model's text: technical prose that Debian ships, cleaned into plain documents.

Three readers turn each package's markup into plain text, one document per section:

- `asciidoc_sections`: Git's own documentation (`git-doc`, the AsciiDoc sources of its manual pages and
  guides): the notebook's exercise 2 asks about Git, so the model should have read about it;
- `html_sections`: the Debian Reference (`debian-reference-en`, `-es`), DocBook HTML;
- `roff_sections`: Spanish manual pages (`manpages-es`), troff.

Code listings, tables, synopses and the navigation are dropped (a student reads prose, and a listing
teaches the model to print shell sessions). Bullet lists stay as "- item" lines. A paragraph that occurs
three times or more in a source (licence notices, "Part of the git(1) suite") is boilerplate that the
model would learn by heart and print after any prompt; `drop_boilerplate` removes it.
"""

from __future__ import annotations

import gzip
import html
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

BOILERPLATE_REPEATS = 3   # a paragraph seen this often in one source is boilerplate, not prose
MIN_SECTION_WORDS = 20    # a shorter section (a heading, one option name) teaches nothing alone

# --- AsciiDoc (git-doc) ------------------------------------------------------------------------------
DELIMITER = re.compile(r"^([-.*+_=/])\1{3,}$")   # ----, ...., ****: a block opens or closes
UNDERLINE = re.compile(r"^([-=~^])\1+$")         # a title's underline, as long as the title
SKIPPED_BLOCKS = "-./+"                          # listings, literal blocks, comments, passthrough
DIRECTIVE = re.compile(r"^(?:\[.*\]|:[\w-]+:.*|(?:include|ifdef|ifndef|ifeval|endif)::.*|//.*|\+)$")
ASCIIDOC_SKIPPED_SECTIONS = {"SYNOPSIS", "GIT", "SEE ALSO", "AUTHOR", "AUTHORS", "DOCUMENTATION"}
ASCIIDOC_INLINE = [  # (pattern, replacement), applied in order
    (re.compile(r"linkgit:([\w.-]+)\[\d\]"), r"\1"),
    (re.compile(r"(?:link|https?|mailto):(\S*?)\[(.*?)\]"), lambda m: m[2] or m[1].split("/")[-1]),
    (re.compile(r"<<[^,>]*,([^>]*)>>"), r"\1"),
    (re.compile(r"<<([^>]*)>>"), r"\1"),
    (re.compile(r"\{litdd\}"), "--"),
    (re.compile(r"\{[\w-]+\}"), ""),
    (re.compile(r"``(.*?)''"), r'"\1"'),
    (re.compile(r"(?<![\w`])[`'_*+]{1,2}([^`'*_+\n]+?)[`'_*+]{1,2}(?!\w)"), r"\1"),
]


def asciidoc_sections(text: str) -> list[str]:
    """Git's documentation source -> plain sections (title, then its paragraphs)."""
    sections: list[list[str]] = [[]]
    skipping, previous, section = None, "", ""
    for raw in text.splitlines():
        line = raw.rstrip()
        title = underlined_title(line, previous) if skipping is None else None
        title = title or (re.match(r"^=+ (.+)$", line) or [None, None])[1]
        if title:
            section = title.strip().upper()
            if sections[-1][-1:] == [inline_asciidoc(previous)]:
                sections[-1].pop()                   # the title's text was taken for a paragraph line
            sections.append([] if section in ASCIIDOC_SKIPPED_SECTIONS else [inline_asciidoc(title) + ".", ""])
            previous = ""
            continue
        previous = line
        if DELIMITER.match(line):
            if skipping == line[0]:
                skipping = None
            elif skipping is None and line[0] in SKIPPED_BLOCKS:
                skipping = line[0]
            previous = ""
        elif not (skipping or DIRECTIVE.match(line) or section in ASCIIDOC_SKIPPED_SECTIONS):
            sections[-1].append(inline_asciidoc(line))
    return [text for lines in sections if (text := paragraphs(lines))]


def underlined_title(line: str, previous: str) -> str | None:
    """The title above `line` when `line` is its underline (----, ====, ~~~~ as long as the title)."""
    if UNDERLINE.match(line) and previous.strip() and not DELIMITER.match(previous) \
            and abs(len(line) - len(previous)) <= 2:
        return previous.strip()
    return None


def inline_asciidoc(line: str) -> str:
    for pattern, replacement in ASCIIDOC_INLINE:
        line = pattern.sub(replacement, line)
    return line


def paragraphs(lines: list[str]) -> str:
    """Lines -> paragraphs: wrapped lines joined, list items on lines of their own, indented blocks dropped."""
    out: list[str] = []
    block: list[str] = []
    for line in [*lines, ""]:
        if line.strip():
            block.append(line)
            continue
        if block and not block[0][:1].isspace():  # a paragraph that starts indented is a literal block
            out.extend(join_wrapped(block))
        block = []
    return "\n".join(out).strip()


LIST_ITEM = re.compile(r"^\s*(?:[*-]+|\d+\.|\.+)\s+(.*)$")
TERM = re.compile(r"^(.*?[^:;]):{2,}$|^(.*?[^:;]);;$")  # "--all::": an option or a word being defined


def join_wrapped(block: list[str]) -> list[str]:
    joined: list[str] = []
    for line in block:
        item, term = LIST_ITEM.match(line), TERM.match(line.strip())
        if term and joined and joined[-1].endswith(":") and ": " not in joined[-1]:
            joined[-1] = joined[-1][:-1] + ", " + (term[1] or term[2]) + ":"  # "-a, --all:"
        elif term:
            joined.append((term[1] or term[2]) + ":")
        elif item:
            joined.append("- " + item[1].strip())
        elif joined:
            joined[-1] += " " + line.strip()
        else:
            joined.append(line.strip())
    return [" ".join(line.split()) for line in joined]


# --- HTML (debian-reference) -------------------------------------------------------------------------
class ProseParser(HTMLParser):
    """Text of <p> and <li> outside tables, listings and the table of contents; <h1>-<h4> start sections."""

    SKIP = {"pre", "table", "script", "style"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[list[str]] = [[]]
        self.skip_depth = 0
        self.toc_depth = 0
        self.current: list[str] | None = None
        self.prefix = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = dict(attrs).get("class") or ""
        if tag in self.SKIP:
            self.skip_depth += 1
        elif tag == "div" and ("toc" in classes or "nav" in classes):
            self.toc_depth += 1
        elif tag == "div" and self.toc_depth:
            self.toc_depth += 1
        elif tag in ("h1", "h2", "h3", "h4"):
            self.sections.append([])
            self.start("")
        elif tag == "li":
            self.prefix = "- "
        elif tag == "p":
            self.start(self.prefix)
            self.prefix = ""

    def start(self, prefix: str) -> None:
        self.finish()
        self.current = [prefix]

    def finish(self) -> None:
        if self.current is not None:
            text = " ".join("".join(self.current).split())
            if text.strip("- "):
                self.sections[-1].append(text)
        self.current = None

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag == "div" and self.toc_depth:
            self.toc_depth -= 1
        elif tag in ("p", "h1", "h2", "h3", "h4"):
            if tag.startswith("h") and self.current is not None:
                self.current.append(".")
            self.finish()

    def handle_data(self, data: str) -> None:
        if self.current is not None and not self.skip_depth and not self.toc_depth:
            self.current.append(data)


# "2.5.4. Title." and "(see Section 2.5.4, “Title”)": numbers that a small model strings into "-8.2.5.4."
SECTION_NUMBER = re.compile(r"^(?:[A-Z]\.)?\d+(?:\.\d+)*\. ")
SECTION_REFERENCE = re.compile(r"\b(?:Section|Sección|Chapter|Capítulo) [A-Z\d]+(?:\.\d+)*,? ?")


def html_sections(text: str) -> list[str]:
    parser = ProseParser()
    parser.feed(text)
    parser.close()
    parser.finish()
    return [SECTION_REFERENCE.sub("", SECTION_NUMBER.sub("", "\n".join(section)))
            for section in parser.sections if section]


# --- troff (manpages-es) -----------------------------------------------------------------------------
ROFF_ESCAPES = [
    (re.compile(r"\\[hvwlLoDbxXZ]'[^']*'"), ""),     # motions, widths, lines: \h'-04'
    (re.compile(r"\\f(?:\[[^]]*\]|\(..|.)"), ""),        # font changes
    (re.compile(r"\\[/,]"), ""),                          # italic corrections
    (re.compile(r"\\\*(?:\[[^]]*\]|\(..|.)"), '"'),       # strings (mostly quotes)
    (re.compile(r"\\\((?:em|en|hy)"), "-"),
    (re.compile(r"\\\((?:aq|cq|oq)"), "'"),
    (re.compile(r"\\\((?:lq|rq|dq)"), '"'),
    (re.compile(r"\\\(co"), "©"),
    (re.compile(r"\\\(.."), ""),
    (re.compile(r"\\\[[^]]*\]"), ""),
    (re.compile(r"\\s[-+]?\d"), ""),
    (re.compile(r"\\[&c:%]"), ""),
    (re.compile(r"\\[- ~0|^]"), lambda m: "-" if m[0] == "\\-" else " "),
    (re.compile(r"\\e"), "\\\\"),
]
ROFF_SKIPPED_SECTIONS = ("VÉASE", "VEASE", "COLOFÓN", "COLOFON", "TRADUCCIÓN", "TRADUCCION", "AUTOR",
                         "COPYRIGHT", "DERECHOS", "INFORMAR", "REPORTAR", "ERRORES", "SINOPSIS", "HISTORIAL")
NO_FILL = {".nf": True, ".EX": True, ".fi": False, ".EE": False,
           ".TS": True, ".TE": False}  # tables (tbl) are dropped, as the HTML's are


def roff_sections(text: str) -> list[str]:
    """A troff manual page -> plain sections; no-fill blocks (examples) and boilerplate sections dropped."""
    sections: list[list[str]] = [[]]
    skipping_section = no_fill = term_next = False
    for line in text.splitlines():
        macro, _, rest = line.partition(" ")
        if macro in NO_FILL:
            no_fill = NO_FILL[macro]
        elif macro in (".SH", ".SS"):
            heading = inline_roff(rest).strip('" ')
            skipping_section = heading.upper().startswith(ROFF_SKIPPED_SECTIONS)
            sections.append([] if skipping_section else [heading.capitalize() + ".", ""])
        elif skipping_section or no_fill or line.startswith(('.\\"', "'\\\"")):
            continue
        elif macro in (".B", ".I", ".BR", ".BI", ".IR", ".RB", ".RI", ".IB", ".SM"):
            sections[-1].append(inline_roff(" ".join(quoted_words(rest))) + (":" if term_next else ""))
            term_next = False
        elif macro == ".IP" and quoted_words(rest)[:1] in (["\\(bu"], ["*"], ["\\[bu]"], ["-"], ["•"]):
            sections[-1] += ["", "- "]
        elif macro in (".PP", ".P", ".LP", ".TP", ".IP", ".sp", ".br"):
            sections[-1].append("")
            term_next = macro == ".TP"  # the next line is the term being defined: "-a, --all:"
        elif not line.startswith((".", "'")):
            sections[-1].append(inline_roff(line) + (":" if term_next else ""))
            term_next = False
    return [text for lines in sections if (text := roff_paragraphs(lines))]


def quoted_words(rest: str) -> list[str]:
    return [a or b for a, b in re.findall(r'"([^"]*)"|(\S+)', rest)]


def inline_roff(line: str) -> str:
    for pattern, replacement in ROFF_ESCAPES:
        line = pattern.sub(replacement, line)
    return line


def roff_paragraphs(lines: list[str]) -> str:
    out, current = [], ""
    for line in [*lines, ""]:
        if line.strip() and line != "- ":
            current = (current + " " + line.strip()) if current and current != "- " else current + line.strip()
        elif line == "- ":
            out.append(current)
            current = "- "
        else:
            out.append(current)
            current = ""
    return "\n".join(" ".join(p.split()) for p in out if p.strip("- ")).strip()


# --- reading a package -------------------------------------------------------------------------------
def read_text(path: Path) -> str:
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return html.unescape(data.decode("utf-8", errors="replace")) if path.suffix != ".html" else \
        data.decode("utf-8", errors="replace")


def drop_boilerplate(sections: list[str], repeats: int = BOILERPLATE_REPEATS) -> list[str]:
    """Sections without the paragraphs that occur `repeats` times or more; short sections dropped."""
    counts = Counter(p for section in sections for p in set(section.split("\n")) if len(p.split()) >= 4)
    kept = []
    for section in sections:
        lines = [p for p in section.split("\n") if counts[p] < repeats]
        if len(" ".join(lines).split()) >= MIN_SECTION_WORDS:
            kept.append("\n".join(lines))
    return kept
