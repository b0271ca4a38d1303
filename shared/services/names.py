"""Display names as the projected gallery shows them: visible, and told apart by how they look.

Two names that look the same on a projector are the same name to the class, whatever their code points:
"María" and "Mаría" (a Cyrillic а) must not be two un-numbered students. Names are compared by their
confusables **skeleton** (Unicode TR39 §4: NFD, every character replaced by the prototype of its
confusable class, NFD again), case aside: the second "Mаría" is shown as "Mаría · 2".

The confusable classes come from Unicode's confusables.txt as the `confusable-homoglyphs` package ships
it (each character with the characters it may be confused with). TR39 maps each character to one
prototype; here each class of single characters is represented by one member (an ASCII letter if it
has one), which gives the same equalities. Mappings to several characters ("m" and "rn") are left out.

Invisible characters are refused, not stripped: a Hangul filler (U+3164) or a blank Braille pattern
(U+2800) looks like nothing, so "María\u3164" would be a second María that looks exactly like the first.
"""

from __future__ import annotations

import functools
import unicodedata

from shared.contract.problems import Problem

MAX_NAME_CHARS = 40

# Characters that draw nothing (or only a blank) yet are letters or marks to Unicode, so a category check
# misses them: Unicode's Default_Ignorable_Code_Point ranges outside category C, and blank glyphs.
INVISIBLE_RANGES = (
    (0x034F, 0x034F),    # combining grapheme joiner
    (0x115F, 0x1160),    # Hangul choseong / jungseong fillers
    (0x17B4, 0x17B5),    # Khmer inherent vowels
    (0x180B, 0x180F),    # Mongolian variation selectors and vowel separator
    (0x2800, 0x2800),    # Braille pattern blank
    (0x3164, 0x3164),    # Hangul filler
    (0xFE00, 0xFE0F),    # variation selectors
    (0xFFA0, 0xFFA0),    # halfwidth Hangul filler
    (0x1D159, 0x1D159),  # musical symbol null notehead
    (0x1D173, 0x1D17A),  # musical formatting
    (0xE0100, 0xE01EF),  # variation selectors supplement
)
SPACE_CATEGORIES = {"Zs"}  # visible spaces of any width: one plain space each, runs collapsed


def is_invisible(ch: str) -> bool:
    """Control, format (bidirectional included), unassigned, private-use or surrogate code points, line
    and paragraph separators, and the letters and marks that draw nothing (INVISIBLE_RANGES)."""
    category = unicodedata.category(ch)
    if category[0] == "C" or category in ("Zl", "Zp"):
        return True
    point = ord(ch)
    return any(low <= point <= high for low, high in INVISIBLE_RANGES)


def clean_display_name(name: str) -> str:
    """The name as it will be shown: NFC, spaces made plain and collapsed, trimmed. Raises when it holds an
    invisible character (named by its code point) or has no visible character or is too long."""
    text = unicodedata.normalize("NFC", str(name or ""))
    hidden = next((ch for ch in text if is_invisible(ch)), None)
    if hidden is not None:
        raise Problem.Invalid([Problem("invisible_name_characters", codepoint=f"U+{ord(hidden):04X}")])
    text = " ".join("".join(" " if unicodedata.category(ch) in SPACE_CATEGORIES else ch for ch in text).split())
    if not text or len(text) > MAX_NAME_CHARS:
        raise Problem.Invalid([Problem("bad_name", limit=MAX_NAME_CHARS)])
    return text


def name_keys(name: str) -> frozenset[str]:
    """What a name looks like, regardless of case: two names that share a key look alike ("Mаría" with a
    Cyrillic а and "MARÍA" share one with "María"; "Maria" does not: the accent shows). Two keys, because
    skeletons and case do not commute: casefolding first finds "MARÍA" (a capital I is a confusable of
    "l", not of "i"), the skeleton first finds "Мaría" (a Cyrillic capital М, whose lower case "м" looks
    like no Latin letter)."""
    return frozenset({_skeleton(name.casefold()).casefold(), _skeleton(_skeleton(name).casefold()).casefold()})


def _skeleton(text: str) -> str:
    prototypes = _prototypes()
    mapped = "".join(prototypes.get(ch, ch) for ch in unicodedata.normalize("NFD", text))
    return unicodedata.normalize("NFD", mapped)


@functools.cache
def _prototypes() -> dict[str, str]:
    """character -> the representative of its confusable class, built once per process (~0.5 s). Imported
    here, not at the top: the worker imports this module's neighbours but never compares names."""
    from confusable_homoglyphs.utils import load as load_confusables

    parent: dict[str, str] = {}

    def root(ch: str) -> str:
        while parent.setdefault(ch, ch) != ch:
            parent[ch] = parent[parent[ch]]
            ch = parent[ch]
        return ch

    for source, entries in load_confusables("confusables.json").items():
        for entry in entries:
            target = entry["c"].replace("\u200e", "").replace("\u200f", "")  # right-to-left ones come marked
            if len(source) == 1 and len(target) == 1:
                a, b = root(source), root(target)
                if a != b:
                    parent[max(a, b, key=_rank)] = min(a, b, key=_rank)
    return {ch: root(ch) for ch in parent if root(ch) != ch}


def _rank(ch: str) -> tuple[bool, bool, bool, int]:
    """The class's representative: an ASCII letter (lower case first), else an ASCII character, else
    the lowest code point."""
    return (not (ch.isascii() and ch.isalpha()), not ch.isascii(), not ch.islower(), ord(ch))
