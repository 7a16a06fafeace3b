"""Profanity: better-profanity's curated word list, matched with our own normalization.

Why better-profanity: it is the most used pure-Python word-list filter on PyPI,
has no dependencies, and ships its list as a plain file.  We use only the list:
its ``censor()`` returns no spans, cannot work across stream chunks, and flags
everyday words.  The matching here is ours:

- whole words only, so Scunthorpe, assessment, cocktail and Sussex pass;
- NFKC, zero-width removal, look-alike letters and case (``guardrails.normalize``);
- leetspeak (``sh1t``, ``a$$``), masks (``f*ck``), stretched letters (``fuuuck``);
- words spelled out with separators (``f.u.c.k``, ``f u c k``, ``s|h|i|t``, ``f+u+c+k``,
  ``f    u     c k``) or split in two (``fu ck``);
- symbols standing for a letter (``f#ck``, ``f@ck``) and a few spellings the list lacks (``fuq``, ``kunt``);
- the list's multi-word entries across spaces and punctuation (``blow job``, ``strip-club``);
- a few roots that have no innocent superstrings (``clusterfuck``).

The list is trimmed of words that are ordinary English (kill, hell, organ, screw,
virgin, weed ...): a chat assistant must be able to say them.  Names, places and
phrases that contain a listed word pass whole (``Dick Cheney``, ``Moby Dick``,
``Fucking, Austria``, ``doo-wop``, ``honky tonk``), and so does a word cut off by an
ellipsis (``nig…``, ``injun&#8230;``: most likely "night", "injunction") unless it
holds one of the unambiguous roots.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib.resources import files

from guardrails.base import Action, GuardSpec, Span, Verdict, register
from guardrails.holdback import trailing_hold
from guardrails.normalize import ALTERNATES, Normalized, fold_leet, normalize

NAME = "profanity"
#: Longest raw text one finding can cover (a spelled-out word with separators).
MAX_MATCH = 64

#: Entries of better-profanity's list that are ordinary words, medical terms, names or too mild to block.
EXCLUDED = frozenset(
    """
    aSanchez anal anus areole arian aryan autoerotic bdsm beastial bestial bimbo
    bimbos bondage breasts busty cipa clitoris
    coon cowgirl cowgirls crap crotch cumming cummer damn dink dinks
    doggin dogging dong doofus dopey drunk dummy ejaculate ejaculated ejaculates
    ejaculating ejaculatings ejaculation ejakulate enlargement erect erection erotic erotism essohbee extacy extasy
    facial fanny fart fat femdom fingering fisting fisty flange floozy fondle foobar fubar gae gai ganja gay
    gays gey ghay ghey gigolo god god-dam god-damned godamn godamnit goddam goddammit goddamn goddamned
    gonad gonads gringo guido hamflap hardcoresex hebe hell hemp hentai heroin herp herpes herpy heshe hiv hoar hoare
    homey homo homoerotic homoey hooch hookah hooker hooter hooters hootch horniest horny hotsex howtokill howtomurdep
    hump humped humping hussy hymen inbred incest jerk jerked junkie junky kill kinbaku kinky kinkyJesus kooch kooches
    kootch kraut kwif labia lech len LEN leper lesbians lmao lmfao loin loins lube lust lusting lusty mams massa
    masochist maxi menses menstruate menstruation meth milf molest moolie moron murder muther mutha naked napalm nappy
    nazi nazism nimrod ninny nipple nipples niggle nooky nude nudes nympho omg opiate opium oral orally organ orgasim
    orgasims orgasm orgasmic orgasms orgies orgy ovary ovum ovums paddy pantie panties panty pastie pasty pawn pcp pee
    peepee penetrate penetration penial penile penis perversion peyote phalli phallic pinko playboy pms polack pollock
    poop porn porno pornography pornos pot potty prig pron prostitute prude pube pubic pubis punky queer queero queers
    quicky racy rape raped raper raping rapist raunch rectal rectum rectus reefer reich revue rum rump ruski
    sadism sadist sandbar scantily schizo scum seaman seamen seduce semen sex sexual shamedame shibari shibary
    shota sissy skag sleaze sleazy slave slope sniper snuff sob s-o-b s.o.b. souse soused sperm steamy stoned strip
    stroke stupid suck sucked sucking tampon tawdry teat teets teez teste testee testes
    testical testicle testis threesome throating thrust thug tinkle toke toots tramp transsexual trashy
    tush ugly undies unwed urinal urine uterus uzi vag vagina valium viagra virgin vixen vodka vomit voyeur vulgar
    vulva wad wang wazoo wedgie weed weenie weewee weiner weirdo whiz willies willy womb woody x-rated2g1c xx xxx
    yaoi yury drunk screw screwed screwing snatch stiffy dyke dykes sumofabiatch hore kum kums kummer kumming jap
    japs lesbo lesbos lez lezbian lezbians lezbo lezbos lezzie lezzies lezzy puss pusse pussi nob nobhead
    nobjocky nobjokey nad nads muff organ tit titi tits titt toots v14gra v1gra heeb gfy gtfo stfu wtf foad fook
    fooker fack feck fecker booty gook gooks kock kondum kondums kawk cawk rimming hobag hom0 h0m0 h0mo hooch
    """.split()
)
#: Multi-word entries of the list that are ordinary phrases or too mild to block.
EXCLUDED_PHRASES = frozenset(
    {"auto erotic", "blue waffle", "booty call", "brown shower", "brown showers", "carpet muncher", "cow girl",
     "cow girls", "deep throat", "dog style", "doggie style", "doggy style", "foot job", "golden shower",
     "nob jokey", "three some"}
)  # fmt: skip
#: Spellings people use that the list lacks.
ADDED = frozenset({"fuq", "fuqing", "fuqed", "fuqer", "phuq", "kunt", "kunts", "biatch", "biatches", "biotch"})
#: Names, places and set phrases that contain a listed word; a finding inside one of them is dropped.
ALLOWED_PHRASES = (
    "dick cheney", "moby dick", "philip k dick", "spotted dick", "tit for tat", "blue tit", "blue tits", "great tit",
    "great tits", "coal tit", "coal tits", "fucking austria", "doo wop", "honky tonk", "honky tonks", "van dyke",
)  # fmt: skip

#: Roots that make any word containing them profane (none is part of an innocent English word).
ROOTS = ("fuck", "fvck", "shit", "bitch", "cunt", "whore", "nigger", "faggot", "motherf")
#: Innocent words that contain a root.
ALLOWED = frozenset(
    {"scunthorpe", "shiitake", "shitake", "shittim", "mishit", "mishits", "snigger", "sniggers", "sniggered",
     "sniggering", "matsushita", "yamashita", "kinoshita", "morishita", "takeshita", "kishita", "cushite",
     "cushites", "kushite", "kushites", "cushitic", "kushitic", "gaylord", "gaylords", "honkytonk", "honkytonks"}
)  # fmt: skip

_WORD = re.compile(r"(?:[^\W\d_]|[*#0-9@$!|+€£])+")
# Single letters (or leet symbols) separated by one to three separator characters (f.u.c.k, f u c k, s|h|i|t,
# f+u+c+k, one letter a line) or by a run of up to eight spaces (f    u     c k).  Matched on the un-leeted
# text, where | and + are still separators.
_SPELLED = re.compile(
    r"(?<![^\W_])(?:(?:[^\W_]|[@$])(?:[ \t\r\n.\-_*~·/\\'\"|,+:;]{1,3}|[ \t]{1,8})){2,}(?:[^\W_]|[@$])(?![^\W_])"
)
# The last word before the held tail, with at most two spaces after it.
_LAST_WORD = re.compile(r"(?<!\S)(\S{2,4})[ \t]{1,2}$")
# A word cut off by an ellipsis ("nig…", "injun&#8230;" after normalization).
_TRUNCATED = re.compile(r"\.\.\.")
_STRETCH = re.compile(r"(.)\1{2,}")
_SUFFIXES = ("s", "es", "ed", "er", "ers", "ing", "in", "z")


@lru_cache(maxsize=1)
def wordlist() -> frozenset[str]:
    """The profane words: better-profanity's bundled list minus ``EXCLUDED``, lowercased."""
    raw = (files("better_profanity") / "profanity_wordlist.txt").read_text(encoding="utf-8")
    words: set[str] = set()
    for line in raw.splitlines():
        entry = line.strip()
        if not entry or entry in EXCLUDED or entry.lower() in EXCLUDED or entry.lower() in EXCLUDED_PHRASES:
            continue
        key = fold_leet(entry.lower())
        if " " in key or not key.isalpha():
            # Phrases and entries with separators are caught by the spelled-out, phrase and root rules.
            key = re.sub(r"[^a-z]", "", key)
            if not key or len(key) < 3:
                continue
        if key in EXCLUDED:
            continue  # an excluded word back through a variant (s.o.b., c0wgirl, t1t)
        words.add(key)
    return frozenset(words | ADDED)


@lru_cache(maxsize=1)
def phrases() -> tuple[tuple[str, ...], ...]:
    """The list's multi-word entries (minus ``EXCLUDED_PHRASES``), as word tuples."""
    raw = (files("better_profanity") / "profanity_wordlist.txt").read_text(encoding="utf-8")
    entries = {line.strip().lower() for line in raw.splitlines() if " " in line.strip()}
    return tuple(sorted(tuple(e.split()) for e in entries - EXCLUDED_PHRASES))


def _phrase_pattern(words: tuple[str, ...], gap: str) -> str:
    return r"(?<![^\W_])" + gap.join(re.escape(w) for w in words) + r"(?:e?s)?(?![^\W_])"


def _alternation(patterns: list[str], firsts: set[str]) -> re.Pattern[str]:
    # A first-character lookahead: without it every position tries every alternative.
    return re.compile(f"(?=[{re.escape(''.join(sorted(firsts)))}])(?:{'|'.join(patterns)})")


@lru_cache(maxsize=1)
def _phrase_regex() -> re.Pattern[str]:
    """The list's phrases, matching across spaces and punctuation (``blow job``, ``blow-job``, ``2 girls, 1 cup``)."""
    return _alternation([_phrase_pattern(p, r"[\W_]{1,3}") for p in phrases()], {p[0][0] for p in phrases()})


@lru_cache(maxsize=1)
def _allowed_regex() -> re.Pattern[str]:
    allowed = [tuple(p.split()) for p in ALLOWED_PHRASES]
    return _alternation([_phrase_pattern(p, r"[\W_]{1,3}") for p in allowed], {p[0][0] for p in allowed})


@lru_cache(maxsize=1)
def _root_forms() -> frozenset[str]:
    return frozenset(root + suffix for root in ROOTS for suffix in ("", *_SUFFIXES))


@lru_cache(maxsize=1)
def phrase_starts() -> frozenset[str]:
    """Words a phrase can start with or continue from: held back in a stream until the phrase is decided."""
    return frozenset(w for p in phrases() for w in p[:-1])


def _is_profane(word: str, had_one: bool) -> bool:
    """Is one folded word profane?"""
    words = wordlist()
    candidates = {word}
    if had_one:
        candidates.add(word.replace("i", "l"))
    if "*" in word:
        return _masked_match(word)
    if _STRETCH.search(word):
        candidates |= {_STRETCH.sub(r"\1\1", c) for c in candidates} | {_STRETCH.sub(r"\1", c) for c in candidates}
        candidates |= {re.sub(r"(.)\1+", r"\1", c) for c in candidates}
    for cand in candidates:
        if cand in ALLOWED:
            return False
        if cand in words:
            return True
        if any(root in cand for root in ROOTS):
            return True
        for suffix in _SUFFIXES:
            stem = cand[: -len(suffix)]
            if cand.endswith(suffix) and len(stem) >= 4 and stem in words:
                return True
    return False


def _masked_match(word: str) -> bool:
    """``f*ck``, ``sh**``: asterisks stand for letters; at least two real letters, first one real."""
    letters = word.replace("*", "")
    if word.startswith("*") or len(letters) < 2:
        return False
    pattern = re.compile(word.replace("*", "[a-z]") + r"\Z")
    return any(len(w) == len(word) and pattern.match(w) for w in _by_first(word[0]))


@lru_cache(maxsize=64)
def _by_first(letter: str) -> tuple[str, ...]:
    return tuple(w for w in wordlist() if w.startswith(letter))


class ProfanityGuardrail:
    """Finds profane words; blocks, redacts them as asterisks, or warns."""

    name = NAME
    where = frozenset({"input", "output"})
    max_match = MAX_MATCH
    slow = False

    def __init__(self, action: Action = "block") -> None:
        self.action: Action = action
        wordlist()  # load once, up front

    def findings(self, text: str) -> list[tuple[int, int]]:
        """Raw ``(start, end)`` of each profane word in ``text``.

        Text with a look-alike that has two readings (Cyrillic ``у`` as ``y`` or ``u``) is read both ways.
        """
        spans = self._findings(normalize(text))
        if not text.isascii() and any(ord(c) in ALTERNATES for c in text):
            spans = sorted(set(spans) | set(self._findings(normalize(text, alternate=True))))
        return spans

    def _findings(self, norm: Normalized) -> list[tuple[int, int]]:
        folded = fold_leet(norm.text)
        spans: list[tuple[int, int]] = []
        covered: list[tuple[int, int]] = []
        allowed: list[tuple[int, int]] | None = None  # found only when needed: most text has no finding
        for m in _phrase_regex().finditer(norm.text):
            spans.append(norm.raw_span(m.start(), m.end()))
            covered.append((m.start(), m.end()))
        for m in _SPELLED.finditer(norm.text):
            joined = fold_leet(re.sub(r"[^\w@$]|_", "", m.group()))
            if len(joined) >= 3 and _is_profane(joined, "1" in m.group()):
                spans.append(norm.raw_span(m.start(), m.end()))
                covered.append((m.start(), m.end()))
        words: list[tuple[int, int, bool]] = []
        for m in _WORD.finditer(folded):
            start, end = m.span()
            if any(a <= start < b for a, b in covered):
                continue
            # '!', '|' and '+' at either end are punctuation, not letters: "ass!" is "ass".
            while end > start and norm.text[end - 1] in "!|+#":
                end -= 1
            while start < end and norm.text[start] in "!|+*#":
                start += 1
            original, word = norm.text[start:end], folded[start:end]
            if not any(c.isalpha() for c in original):  # numbers such as 455 are not leetspeak
                continue
            profane = len(word) >= 2 and _word_is_profane(original, word)
            if profane and _TRUNCATED.match(norm.text, end) and not any(root in word for root in ROOTS):
                profane = False  # "nig…", "injun&#8230;": the start of a longer word
            words.append((start, end, profane))
            if profane and allowed is None:
                allowed = [m.span() for m in _allowed_regex().finditer(norm.text)]
            if profane and not any(a <= start and end <= b for a, b in allowed or ()):
                spans.append(norm.raw_span(start, end))
        spans.extend(_split_words(norm, folded, words))
        return sorted(set(spans))

    def warm(self) -> None:
        """Nothing to load."""

    def check(self, text: str) -> Verdict:
        """Judge ``text``."""
        found = self.findings(text)
        if not found:
            return Verdict.allow()
        reason = "The message contains profanity."
        spans = [
            Span(a, b, NAME, _mask(text[a:b]) if self.action == "redact" else None, self.action, reason)
            for a, b in found
        ]
        return Verdict.from_spans(NAME, spans)

    def hold(self, text: str) -> int:
        """The trailing partial word, plus trailing letters or halves that may be a word being spelled out or split,
        and words that may start one of the list's phrases (``blow`` before ``job``)."""
        held = trailing_hold(text, self.max_match, _may_belong)
        # One more word when it may be the first half of a split word (``fu`` + ``ck``).
        # Nine characters are enough: the pattern is at most four letters and two spaces after a space.
        before = text[max(0, len(text) - held - 9) : len(text) - held]
        if (m := _LAST_WORD.search(before)) is not None and (held or before[-1:].isspace()):
            head = m.group(1).lower() if m.group(1).isascii() else normalize(m.group(1)).text
            if head.isalpha() and head in _split_heads() and held + len(before) - m.start(1) <= self.max_match:
                held += len(before) - m.start(1)
        return held


def _word_is_profane(original: str, word: str) -> bool:
    """One word, with '#' as a mask and, failing the leet reading, '@' as one too (``f#ck``, ``f@ck``)."""
    if "#" in word:
        word = word.replace("#", "*")
    if _is_profane(word, "1" in original):
        return True
    return "@" in original and _is_profane(fold_leet(original.replace("@", "*")), "1" in original)


def _split_words(norm: Normalized, folded: str, words: list[tuple[int, int, bool]]) -> list[tuple[int, int]]:
    """A word split in two by one space (``fu ck``): the halves are short and together exactly a listed word."""
    found = []
    for (a, b, bad_a), (c, d, bad_b) in zip(words, words[1:], strict=False):
        if bad_a or bad_b or not 2 <= b - a <= 4 or not 2 <= d - c <= 4 or not norm.text[b:c].isspace() or c - b > 2:
            continue
        joined = folded[a:b] + folded[c:d]
        if joined in wordlist() or joined in _root_forms():
            found.append(norm.raw_span(a, d))
    return found


def _mask(word: str) -> str:
    """``fuck`` -> ``f***``: the reader sees something was removed, not what."""
    return word[:1] + "*" * (len(word) - 1) if len(word) > 1 else "*"


register(
    GuardSpec(
        NAME,
        lambda action: ProfanityGuardrail(action or "block"),
        default_action="block",
        label="Profanity",
    )
)


def _single_letter(word: str) -> bool:
    """A "word" of at most one letter-like character: maybe one letter of a spelled-out word."""
    return sum(c.isalnum() or c in "@$!|" for c in word) <= 1


def _may_belong(word: str) -> bool:
    """A spelled-out letter, the short first half of a split word (``fu``), or a word a phrase may start with."""
    if sum(c.isalnum() or c in "@$!|#*" for c in word) <= 1:
        return True
    key = word.lower() if word.isascii() else normalize(word).text
    return key.strip(".,;:!?\"'()") in phrase_starts()


@lru_cache(maxsize=1)
def _split_heads() -> frozenset[str]:
    """First halves a split word can start with (``fu`` of ``fu ck``): 2-4 letter prefixes of listed words."""
    return frozenset(w[:n] for w in wordlist() | set(ROOTS) for n in range(2, 5) if len(w) > n and w[:n].isalpha())
