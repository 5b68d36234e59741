"""Catch invented quotations: check every quoted or attributed passage in an answer against the table.

A fine-tuned model learns that Stoic answers quote Stoics, and then writes "Marcus Aurelius wrote: 'The mind is
like a river...'", a line he never wrote. `check_quotes` finds each passage and compares it with the 52 real
quotations in `data.QUOTES`:

    check_quotes('Marcus Aurelius wrote: "The universe is transformation: life is opinion."')
    # [Passage(text='The universe is transformation: life is opinion.', credited='Marcus Aurelius',
    #          verdict='verified', source='Marcus Aurelius, Meditations 4.3 (tr. George Long)', start=0, end=73)]
    invented('As Seneca said, "The mind is like a river, which flows on its own track."')   # True: unverified
    highlight_quotes(text)     # HTML with each passage in <mark class="quote-verified"> (or -misattributed...)

Verdicts: "verified" (the words are a table quotation, credited to its author, to "the Stoics", or to nobody),
"misattributed" (a table quotation credited to anyone else, e.g. an Epictetus line given to Seneca or Socrates),
"unverified" (no table quotation matches: invented, changed, or simply not in our table).

What counts as a passage:
- text in quote marks (" " “ ” or ' ‘ ’; an apostrophe inside or at the end of a word, as in don't or
  Epictetus' lectures, never opens one) credited nearby: "X wrote/said/taught/put it/...: '...'" or
  "According to X, '...'" in the same sentence; '"...," wrote X' / '"..." (X)' / '"..." — X' after it; or,
  for the three authors only, their name in the sentence just after or just before the quotation ("Epictetus
  compared life to a play. '...'"). X is Epictetus, Seneca, Marcus Aurelius (or Marcus, Aurelius, Epictetus'),
  "the Stoics" / "a Stoic" / "Stoicism", or any other capitalised name or "my grandmother", kept as written;
- "as X put it / said / wrote, ..." without quote marks: the rest of the sentence is the passage (and in
  "..., as X put it." the sentence before): such a passage claims X's words, a paraphrase will not match;
- quoted text of 6 words or more with no attribution nearby, only when it matches the table (verified):
  other unattributed quotes are the user's own words or scare quotes, and are ignored.
A quoted phrase under 4 words (scare quotes: the "right" answer) is not a passage, unless it is a whole table
quotation ("Everywhere means nowhere").

How words match: both sides are lowercased, punctuation dropped (co-operation = cooperation) and archaic
pronouns modernised (thy = your, thou art = you are). A passage matches a table quotation when
1. one contains the other: the passage is a fragment of at least 6 words of the quotation, or the passage
   holds the whole quotation (of at least 6 words) plus at most half as many words again (the table often
   holds one clause of a longer sentence; those few extra words are not checked, and a real line followed by
   a whole invented sentence is "unverified"), and
2. inside the overlap, every word that differs is a function word ("the", "which", "your"...; never "not"),
   and the word-level difflib ratio of the overlap is at least 0.8.
Why not a ratio alone: "opinions" -> "feelings" in the 16-word Enchiridion 5 scores 0.94, exactly what "the"
-> "a" scores, and one changed word in the 32-word Enchiridion 21 still scores 0.97; no threshold separates a
changed word from a harmless one. A changed quotation is not the quotation: one changed, added or dropped
content word makes a passage "unverified". The 0.8 only limits how many function words may differ
(Enchiridion 5 with two "the"s dropped, "which" -> "that" and "the" -> "their" scores 0.8, just in); 6 words
is where a fragment stops being a phrase anyone might write ("the only thing of which").

Limits: a quotation credited only by "he said" is read as unattributed; quote marks are paired by position
(a straight " opens after a space or colon), so a quotation nested in one with the same marks is not read;
a paraphrase credited with "as X said," is read as X's words; a quotation shortened with "..." is compared
as one run of words, so it comes out "unverified"; and only the table can verify: a real line
that is not in it (or a popular misquotation of one that is) comes out "unverified".
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from .stoic_data import AUTHORS, QUOTES

__all__ = ["Passage", "check_quotes", "invented", "highlight_quotes"]

MIN_WORDS = 4            # a quoted phrase shorter than this is a scare quote, not a quotation
MIN_FRAGMENT = 6         # a fragment (or an unattributed quotation) must have at least this many words
MIN_RATIO = 0.8          # word-level difflib ratio of the overlap, on top of "only function words differ"

_FUNCTION = frozenset("""a an the and or but so yet for nor of to in on at by with from into upon as than that which
    who whom whose this these those it its itself is are was were be been being am do does did have has had i me my
    myself we us our ourselves you your yourself yourselves he him his himself she her herself they them their
    themselves then there thus""".split())
_ARCHAIC = {"thou": "you", "thee": "you", "ye": "you", "thy": "your", "thine": "your", "thyself": "yourself",
            "art": "are", "wert": "were", "wilt": "will", "hast": "have", "hath": "has", "doth": "does",
            "dost": "do", "mayest": "may", "shalt": "shall"}
_CANON = {a.lower(): a for a in AUTHORS} | {"marcus": "Marcus Aurelius", "aurelius": "Marcus Aurelius"}
_NOT_NAMES = frozenset("""as the a an and but so yet even still then here there when while if he she it they we you
    i this that these those his her their our everyone someone people nobody many some most others one remember
    perhaps maybe also later once today now which what who in on for to""".split())

_AUTHOR = r"\b(?:Marcus\s+Aurelius|Marcus|Aurelius|Epictetus|Seneca)\b(?:['’]s?)?"
_SCHOOL = r"(?i:the|a)\s+Stoics?(?:\s+philosophers?)?\b|\bStoicism\b|\bStoic\s+philosophers?\b"
_NAME = rf"(?:{_SCHOOL}|\b(?i:my|our|your)\s+[a-z]+\b|\b[A-Z][a-z]+(?:\s+(?:of\s+)?[A-Z][a-z]+)*\b)"
_VERB = (r"(?:(?:once|also|famously|rightly|wisely|himself|would|might|may|could|used\s+to|often|always)\s+)*"
         r"(?i:wrote|writes?|said|says?|taught|teach(?:es)?|observed?s?|noted?s?|put\s+it|puts\s+it|"
         r"remind(?:s|ed)?(?:\s+us)?|remark(?:s|ed)?|told|tells?|advised?s?|argued?s?|warn(?:s|ed)?|ask(?:s|ed)?|"
         r"insist(?:s|ed)?|declared?s?|add(?:s|ed)?|replied|answer(?:s|ed)?|counsell?(?:s|ed)?|put|puts|"
         r"call(?:s|ed)?)\b")
_BEFORE = re.compile(rf"(?P<lead>\b(?i:as|according\s+to|in\s+the\s+words\s+of)\s+)?(?P<name>{_NAME})"
                     rf"(?P<verb>\s+{_VERB})?")
_AFTER = re.compile(rf"\s*,?\s*(?:(?:[—–]|--?)\s*(?P<a>{_NAME})|\(\s*(?P<b>{_NAME})[^()\n]{{0,40}}\)"
                    rf"|{_VERB}\s+(?P<c>{_NAME})|(?P<d>{_NAME})\s+{_VERB}(?!\s*[:,]?\s*[\"“‘']))")   # .match(text, pos)
_SAY = r"(?:(?:once|also|famously|rightly|wisely|would)\s+)*(?i:put\s+it|puts\s+it|said|says|wrote|writes)\b"
_UNQUOTED = re.compile(rf"(?P<lead>\b(?i:as))\s+(?P<name>{_NAME})\s+{_SAY}[^\S\n]*,[^\S\n]*(?![\"“'‘])"
                       r"(?P<text>(?:[^.!?\n\"“”‘]|[.!?](?=\w))+)")
_TRAILING = re.compile(rf"(?:(?m:^)|(?<=[.!?]\s))(?P<text>[^.!?\n\"“”‘]+?),\s+(?P<lead>(?i:as))\s+(?P<name>{_NAME})"
                       rf"\s+{_SAY}[^.!?\n]{{0,30}}[.!?]")
_DOUBLE = re.compile(r"[\"“”]|\n[^\S\n]*\n")
_SENTENCE_END = re.compile(r"[.!?][\"”’')\]]*\s+(?![\sa-z])|\n")   # 'reality." and' goes on
_OPEN_SINGLE = re.compile(r"(?:^|(?<=[\s(\[{—–:;\"“]))['‘](?=\w)")
_CLOSE_SINGLE = re.compile(r"(?<=\S)['’](?!\w)")


@dataclass(frozen=True)
class Passage:
    """One quoted or attributed passage: its words, who it is credited to, the verdict and where it is.

    Example: `sw.check_quotes('Seneca wrote: "Everywhere means nowhere."')[0]`  # -> Passage(..., verdict='verified')
    """

    text: str               # the quoted words, without quote marks
    credited: str | None    # as written in the answer ("Seneca", "Marcus", "the Stoics", "Socrates"), or None
    verdict: str            # "verified", "misattributed" or "unverified"
    source: str | None      # Quote.source of the matching table quotation, or None
    start: int              # character offsets of the whole passage, attribution included
    end: int


def check_quotes(text: str, quotes: dict | None = None) -> list[Passage]:
    """Every quoted or attributed passage in `text`, checked against `quotes` (default `data.QUOTES`), in order.

    Example: `check_quotes('Seneca wrote: "Everywhere means nowhere."')[0].verdict` -> "verified"
    """
    table = [(q, _words(q.text)) for q in (QUOTES if quotes is None else quotes).values()]
    found, taken = [], []
    for cand in sorted(_quoted(text) + _unquoted(text), key=lambda c: c[0]):
        q_start, q_end, inner, credited, start, end = cand
        if any(q_start < b and a < q_end for a, b in taken):
            continue                                        # inside a passage already found
        judged = _judge(_words(inner), credited, table)
        if judged is None:
            continue
        if found and start < found[-1].end:
            start = q_start                                 # attribution shared with the previous passage
        taken.append((q_start, q_end))
        found.append(Passage(inner.strip().rstrip(",;:").strip(), credited, *judged, start, max(end, q_end)))
    return found


def invented(text: str, quotes: dict | None = None) -> bool:
    """True if any passage in `text` is unverified or misattributed.

    Example: `invented('Marcus Aurelius wrote: "The mind is like a river, which flows on its own track."')` -> True
    """
    return any(p.verdict != "verified" for p in check_quotes(text, quotes))


def highlight_quotes(text: str, quotes: dict | None = None, *, between=html.escape, titles: bool = False) -> str:
    """`text` as HTML (escaped) with each passage in <mark class="quote-{verdict}">, to colour them in a report.

    `between` turns the text between passages into HTML (the report marks Stoic ideas there); `titles` adds the
    verdict and source as each mark's tooltip.
    Example: `highlight_quotes('Seneca: "Everywhere means nowhere." <3')`
    -> '<mark class="quote-verified">Seneca: &quot;Everywhere means nowhere.&quot;</mark> &lt;3'
    """
    parts, end = [], 0
    for p in check_quotes(text, quotes):
        title = html.escape(p.verdict + (f": {p.source}" if p.source else ""), quote=True)
        parts += [between(text[end:p.start]), f'<mark class="quote-{p.verdict}"',
                  f' title="{title}">' if titles else ">", html.escape(text[p.start:p.end]), "</mark>"]
        end = p.end
    parts.append(between(text[end:]))
    return "".join(parts)


def _words(text: str) -> list[str]:
    """Lowercase words without punctuation; in-word apostrophes and hyphens joined, archaic pronouns modernised."""
    text = re.sub(r"(?<=\w)['’-](?=\w)", "", text.lower())
    return [_ARCHAIC.get(w, w) for w in re.findall(r"\w+", text)]


def _match(a: list[str], b: list[str]) -> float | None:
    """The ratio of the overlap if passage `a` matches quotation `b` (rules 1 and 2 in the module docstring)."""
    blocks = [m for m in SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks() if m.size]
    if not blocks:
        return None
    a0, b0, a1, b1 = blocks[0].a, blocks[0].b, blocks[-1].a + blocks[-1].size, blocks[-1].b + blocks[-1].size
    a_extra, b_extra = len(a) - (a1 - a0), len(b) - (b1 - b0)
    if a_extra and b_extra:
        return None                                         # they only overlap: neither contains the other
    if b_extra and len(a) < MIN_FRAGMENT:
        return None                                         # too short a fragment to tell
    if a_extra and (len(b) < MIN_FRAGMENT or 2 * a_extra > len(b)):
        return None                                         # passage is mostly words the table does not hold
    core = SequenceMatcher(None, a[a0:a1], b[b0:b1], autojunk=False)
    for tag, i0, i1, j0, j1 in core.get_opcodes():
        if tag != "equal" and any(w not in _FUNCTION for w in a[a0 + i0:a0 + i1] + b[b0 + j0:b0 + j1]):
            return None                                     # a content word was changed, added or dropped
    return core.ratio() if core.ratio() >= MIN_RATIO else None


def _judge(words: list[str], credited: str | None, table) -> tuple[str, str | None] | None:
    """(verdict, source), or None when the text is not a passage at all."""
    if len(words) < MIN_WORDS and not any(words == q_words for _, q_words in table):
        return None
    if credited is None and len(words) < MIN_FRAGMENT:
        return None
    scored = [(r, q) for q, q_words in table if (r := _match(words, q_words)) is not None]
    author = _canonical(credited)
    own = [(r, q) for r, q in scored if author in (None, "the Stoics") or q.author == author]
    if own:
        return "verified", max(own, key=lambda rq: rq[0])[1].source
    if scored:
        return "misattributed", max(scored, key=lambda rq: rq[0])[1].source
    return None if credited is None else ("unverified", None)


def _canonical(credited: str | None) -> str | None:
    """"Marcus" -> "Marcus Aurelius", "The Stoics" -> "the Stoics", another name -> itself, None -> None."""
    if credited is None:
        return None
    if re.fullmatch(_SCHOOL, credited):
        return "the Stoics"
    return _CANON.get(" ".join(credited.lower().split()), credited)


def _name(m: re.Match, group: str = "name") -> tuple[str, int] | None:
    """The credited name as written, without leading filler ("As", "Yet", "The") or a possessive; and its start."""
    raw = m.group(group)
    if re.fullmatch(_SCHOOL, raw):
        return (raw[0].lower() + raw[1:] if re.match(r"The\b|A\b", raw) else raw), m.start(group)
    words = [w for w in re.finditer(r"\S+", raw)]
    while words and words[0].group().lower() in _NOT_NAMES:
        words.pop(0)
    if not words:
        return None
    return re.sub(r"['’]s?$", "", raw[words[0].start():]), m.start(group) + words[0].start()


def _spans(text: str) -> list[tuple[int, int]]:
    """(open, close) positions of quote marks, double then single (a single-quoted line inside a double-quoted
    one is a candidate too: it is read only when the outer one is not a passage).

    A straight " opens after a space, a bracket or a colon and closes otherwise; an opening mark with no closer
    before the next opening mark or blank line is dropped, so one stray mark cannot swallow the rest of the text.
    """
    spans, open_ = [], None
    for m in _DOUBLE.finditer(text):
        before = text[m.start() - 1] if m.start() else " "
        if m.group() not in "\"“”":
            open_ = None                                        # a blank line ends any quotation
        elif m.group() == "“" or (m.group() == '"' and (before.isspace() or before in "([{—–:;")):
            open_ = m.start()
        elif open_ is not None:
            spans.append((open_, m.start()))
            open_ = None
    for m in _OPEN_SINGLE.finditer(text):
        close = _CLOSE_SINGLE.search(text, m.end())
        if close and "\n\n" not in text[m.end():close.start()]:
            spans.append((m.start(), close.start()))
    return spans


def _quoted(text: str) -> list[tuple]:
    """Candidates in quote marks: (quote start, quote end, words, credited, passage start, passage end)."""
    out = []
    for open_, close in _spans(text):
        head = text[:open_]
        cut = max([m.end() for m in _SENTENCE_END.finditer(head, max(0, open_ - 300))] + [max(0, open_ - 300)])
        credit = _credit_before(head, cut) or _credit_after(text, close + 1)
        if credit is None and not head[cut:].strip():           # the quotation opens a sentence
            prev = max([m.end() for m in _SENTENCE_END.finditer(head, max(0, cut - 300), max(0, cut - 1))] + [0])
            credit = _last_author(text, prev, cut)
        name, start, end = credit or (None, open_, close + 1)
        out.append((open_, close + 1, text[open_ + 1:close], name, min(start, open_), max(end, close + 1)))
    return out


def _credit_before(text: str, cut: int) -> tuple[str, int, int] | None:
    """The credit nearest the end of `text` (where the quotation opens), after the sentence start `cut`: a name
    with a speech verb ("Socrates said"), "according to X", or one of the three authors named anywhere."""
    best, name_at = None, -1
    for m in _BEFORE.finditer(text, cut):
        lead, named = (m.group("lead") or "").lower(), _name(m)
        if named and (m.group("verb") or lead.startswith(("according", "in"))):
            best, name_at = (named[0], m.start("lead") if lead else named[1], len(text)), named[1]
    author = _last_author(text, cut, len(text))
    return author if author and author[1] > name_at else best


def _credit_after(text: str, pos: int) -> tuple[str, int, int] | None:
    """A credit after a quotation: ', wrote X', '(X)', '— X', 'X wrote'; or an author early in the next sentence."""
    m = _AFTER.match(text, pos)
    for group in "abcd":
        named = m and m.group(group) and _name(m, group)
        if named:
            return named[0], pos, m.end()
    sentence = re.match(r"[\s.,;!?)]*[^.!?\n]*", text[pos:]).group()
    if re.search(r"(?<![^\s(:])[\"“‘']\w", sentence):
        return None                                             # a name there introduces the next quotation
    return _last_author(text, pos, pos + min(len(sentence), 50), first=True)


def _last_author(text: str, lo: int, hi: int, first: bool = False) -> tuple[str, int, int] | None:
    """The last (or first) of the three authors named in text[lo:hi], as (name, start, end)."""
    found = list(re.finditer(_AUTHOR, text[lo:hi]))
    if not found:
        return None
    m = found[0] if first else found[-1]
    return re.sub(r"['’]s?$", "", m.group()), lo + m.start(), lo + m.end()


def _unquoted(text: str) -> list[tuple]:
    """Candidates without quote marks: "as X put it, <rest of the sentence>" and "<sentence>, as X said."."""
    out = []
    for m in _UNQUOTED.finditer(text):
        if _name(m) and not text[:m.start()].rstrip().endswith(","):   # "X, as Y put it, ..." credits the X
            out.append((m.start("text"), m.end("text"), m.group("text"), _name(m)[0], m.start("lead"), m.end("text")))
    for m in _TRAILING.finditer(text):
        if _name(m):
            out.append((m.start("text"), m.end("text"), m.group("text"), _name(m)[0], m.start("text"), m.end() - 1))
    return out
