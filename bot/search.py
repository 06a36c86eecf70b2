"""Ranking short texts against a question typed the way people really type.

Okapi BM25 over syllable unigrams and bigrams of the folded text (no case, no diacritics,
đ -> d; see `bot.text.fold`), after three repairs of what people type:

- chat shorthand: "ko"/"k"/"hok" -> "khong", "dc" -> "duoc", "j" -> "gi", "bn" -> "bao
  nhieu", "hs" -> "ho so", "dky" -> "dang ky"...;
- words run together: "hoso" -> "ho so" when both halves and the pair are known;
- small typos: a word that cannot be a Vietnamese syllable ("phj", "dag", "villages")
  becomes the known word at edit distance 1 (2 for long words; adjacent swaps count as
  one edit), the most frequent if several. A real syllable is never "corrected".

Particles, greetings, pronouns, the "có ... được không" frame and the plan's place names
are dropped first: they say nothing about the topic.

Word segmentation (underthesea, pyvi) does badly on text without diacritics; syllables and
their bigrams do not care. The confidence of a hit is its coverage: the IDF-weighted share
of the question's words and pairs that the entry's phrasings have. A question whose
informative words are elsewhere ("gia vang hom nay bao nhieu") covers little, however well
its question words ("bao nhieu") match. Limits, measured on benchmarks/qa.tsv: synonyms the
phrasings lack and long messages full of context (a village's name, its craft) lower the
coverage, so such a question gets the closest topics as buttons instead of an answer.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.text import fold

# Folded shorthand -> folded words. Only forms that are unambiguous in questions about a
# plan ("dk" may be "dang ky" or "dieu kien", so it is left alone).
SHORTHAND: dict[str, str] = {
    # không
    "ko": "khong", "k": "khong", "kh": "khong", "hok": "khong", "hk": "khong",
    "khg": "khong", "kg": "khong", "khum": "khong",
    # được, gì, vậy, rồi, với, cũng, trước, người, mình
    "dc": "duoc", "duocj": "duoc", "j": "gi", "gj": "gi", "z": "vay",
    "r": "roi", "vs": "voi", "cx": "cung", "trc": "truoc", "ng": "nguoi",
    "mk": "minh", "mik": "minh", "mjk": "minh", "mjnh": "minh", "mn": "moi nguoi",
    # question words
    "bn": "bao nhieu", "bnh": "bao nhieu", "bnhieu": "bao nhieu", "nhiu": "nhieu",
    "bh": "bao gio", "bgio": "bao gio", "bjo": "bao gio", "ntn": "nhu the nao",
    # the domain
    "hs": "ho so", "hd": "hop dong", "htx": "hop tac xa", "dky": "dang ky",
    "dki": "dang ky", "ki": "ky", "li": "ly", "mi": "my", "ti": "ty", "tp": "thanh pho",
    "sct": "so cong thuong",
    "tgian": "thoi gian", "tg": "thoi gian", "ktra": "kiem tra", "nv": "nhiem vu",
    "sdt": "so dien thoai", "kp": "kinh phi",
    "lq": "lien quan", "ubnd": "uy ban nhan dan", "ub": "uy ban", "qd": "quyet dinh",
    "e": "em",
}  # fmt: skip


def _wordlist(text: str) -> list[str]:
    return text.split()


# Words that carry no topic: particles, pronouns, greetings, "có ... được không", English
# function words. Dropped before matching, from questions and phrasings alike.
STOPWORDS = frozenset(
    _wordlist(
        "a ah ak nhe nhi vay thi la ma oi ha hen day nay kia ay cua cho voi va trong"
        " vao ve em anh chi minh toi chung ta no bon chao alo ad admin xin hoi co duoc khong"
        " roi da neu cung nhung khoang hay"
        " of for is are was be does did we i you our my it this there will would please"
        " hello hi thanks thank dear ok oke okay okie"
    )
)
# Phrases that say nothing about the topic, removed before matching (more are added per
# index: the plan's place names, so "lang em o Gia Lam" does not dilute the question).
NEUTRAL_PHRASES = (
    "cam on nhieu",
    "cam on",
    "chung toi",
    "chung em",
    "cho hoi",
    "muon hoi",
    "thank you",
)

_K1 = 1.2
_B = 0.5  # phrasings are short and similar in length: length matters less
_BIGRAM_WEIGHT = 0.6  # a matching pair of syllables adds to, but counts less than, words
_BIGRAM_COVER = 0.5  # how much the question's pairs count when judging coverage
_KEY_SHARE = 0.5  # coverage: by all texts of the key vs. by the best text alone
# The final order: coverage plus BM25 relative to the best; BM25 alone picks the
# candidates (a few more than asked for, so coverage can lift one of them).
_RERANK = 3


# A folded Vietnamese syllable: an onset, then a rhyme (tones and vowel marks folded away).
_RHYMES = _wordlist("""
a ai ao au ay am an ang anh ap at ac ach e eo eu em en eng ep et ec i ia iu im in inh ip
it ich iem ien iep iet ieu ieng o oa oai oay oac oach oan oang oanh oap oat oam oe oeo
oen oet oi om on ong oong op ot oc ooc u ua uan uang uat uay ue uen uet ui um un ung up
ut uc uy uya uyen uyet uynh uyt uych uyu uu uong uoc uon uom uop uot uoi uou uau uyn y
yen yet yeu
""")
_SYLLABLE = re.compile(
    r"^(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdghklmnprstvx])?(?:"
    + "|".join(sorted(_RHYMES, key=len, reverse=True))
    + ")$"
)


def is_syllable(token: str) -> bool:
    """Could this be a Vietnamese syllable ("nghiep", "thuong"), once folded? A typo
    ("phj", "dag") or an English word ("villages") can't."""
    return bool(_SYLLABLE.match(token))


def _edits1(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def distance(a: str, b: str) -> int:
    """Optimal string alignment distance (Levenshtein with adjacent swaps)."""
    rows = [list(range(len(b) + 1))]
    for i, ca in enumerate(a, 1):
        row = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            row[j] = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def expand(tokens: Iterable[str]) -> list[str]:
    """Shorthand spelled out: ["ko", "dc"] -> ["khong", "duoc"]."""
    out: list[str] = []
    for token in tokens:
        out.extend(SHORTHAND.get(token, token).split())
    return out


# Two syllables that must stay together once folded: "tối đa" (at most) is not "tôi"
# (I) + "đã" (already), which are both dropped as filler.
_COMPOUNDS = {("toi", "da"): "toida", ("lo", "go"): "logo"}


def words(text: str) -> list[str]:
    """The folded syllables of `text`, shorthand spelled out (no vocabulary needed)."""
    tokens = expand(fold(text).split())
    out: list[str] = []
    for token in tokens:
        if out and (out[-1], token) in _COMPOUNDS and out[-2:-1] != ["chung"]:
            out[-1] = _COMPOUNDS[(out[-1], token)]
        else:
            out.append(token)
    return out


@dataclass(frozen=True, slots=True)
class Hit:
    key: str  # what the caller indexed the text under (an entry id)
    score: float  # BM25 of the key's best text, unbounded
    coverage: float  # 0..1: the IDF-weighted share of the question the key accounts for
    text: int  # index of the best-matching text


class Index:
    """BM25 over a fixed list of (key, text); several texts may share a key.

    Build once (per plan and set of entries), then `search` as often as needed.
    """

    def __init__(
        self, documents: Sequence[tuple[str, str]], *, neutral: Iterable[str] = ()
    ) -> None:
        self.keys = [key for key, _ in documents]
        self.texts = [text for _, text in documents]
        phrases = {tuple(words(p)) for p in (*NEUTRAL_PHRASES, *neutral)}
        self.neutral = sorted((p for p in phrases if p), key=len, reverse=True)
        unigrams = [self._strip(words(text)) for text in self.texts]
        self.vocabulary: Counter[str] = Counter(t for doc in unigrams for t in set(doc))
        self.pairs = {p for doc in unigrams for p in itertools.pairwise(doc)}
        self._deletes: dict[str, set[str]] = defaultdict(set)
        for word in self.vocabulary:
            for variant in self._variants(word):
                self._deletes[variant].add(word)
        features = [self._features(doc) for doc in unigrams]
        self.key_features: dict[str, set[str]] = defaultdict(set)
        self.text_features = [set(doc) for doc in features]
        for key, doc in zip(self.keys, features, strict=True):
            self.key_features[key].update(doc)
        self.size = len(features)
        self.lengths = [sum(doc.values()) for doc in features]
        self.average = (sum(self.lengths) / self.size) if self.size else 1.0
        self.postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for number, doc in enumerate(features):
            for feature, count in doc.items():
                self.postings[feature].append((number, count))
        self.idf = {
            feature: math.log(1 + (self.size - len(docs) + 0.5) / (len(docs) + 0.5))
            for feature, docs in self.postings.items()
        }
        self.unknown_idf = math.log(1 + (self.size + 0.5) / 0.5)

    # --- analysis --------------------------------------------------------------------

    @staticmethod
    def _variants(word: str) -> set[str]:
        variants = {word} | _edits1(word)
        if len(word) >= 7:
            variants |= {v2 for v in _edits1(word) for v2 in _edits1(v)}
        return variants

    def correct(self, token: str) -> list[str]:
        """A known word as is; a typo as the known word it most likely is; else itself.

        A real Vietnamese syllable is never "corrected": "nghiep" (nghiệp) is one edit
        from "nghiem" (nghiệm) but means something else, and an unknown word must count as
        unknown. What can't be a syllable ("phj", "dag", "villages") is a typo.
        """
        if token in self.vocabulary or token in STOPWORDS or token.isdigit():
            return [token]
        if is_syllable(token) or len(token) < 3:
            return [token]
        for cut in range(2, len(token) - 1):  # "hoso" -> "ho so"
            left, right = token[:cut], token[cut:]
            if (left, right) in self.pairs:
                return [left, right]
        limit = 2 if len(token) >= 7 else 1
        candidates = {w for v in self._variants(token) for w in self._deletes.get(v, ())}
        close = [w for w in candidates if distance(token, w) <= limit and w[0] == token[0]]
        if not close:
            return [token]
        return [max(close, key=lambda w: (self.vocabulary[w], -distance(token, w), w))]

    def analyze(self, text: str) -> list[str]:
        """The question's syllables: shorthand spelled out, typos repaired, particles,
        greetings, place names and function words dropped ("co dc ko" leaves nothing)."""
        tokens = [fixed for token in words(text) for fixed in self.correct(token)]
        names = self._names(text)
        return [t for t in self._strip(tokens) if t not in STOPWORDS and t not in names]

    def _names(self, text: str) -> set[str]:
        """Unknown capitalised words inside a sentence: names of villages, people, crafts
        ("lang em o Phu Vinh"), which say where the asker is, not what they ask."""
        names: set[str] = set()
        for sentence in re.split(r"[.!?\n]+", text):
            for word in sentence.split()[1:]:
                if word[:1].isupper() and not word.isupper():
                    names.update(t for t in fold(word).split() if t not in self.vocabulary)
        return names

    def _strip(self, tokens: list[str]) -> list[str]:
        """`tokens` without the neutral phrases in them."""
        out: list[str] = []
        i = 0
        while i < len(tokens):
            for phrase in self.neutral:
                if tuple(tokens[i : i + len(phrase)]) == phrase:
                    i += len(phrase)
                    break
            else:
                out.append(tokens[i])
                i += 1
        return out

    @staticmethod
    def _features(tokens: Sequence[str]) -> Counter[str]:
        content = [t for t in tokens if t not in STOPWORDS]
        features = Counter(content)
        features.update(f"{a}_{b}" for a, b in itertools.pairwise(content))
        return features

    def _weight(self, feature: str) -> float:
        weight = self.idf.get(feature, self.unknown_idf)
        return weight * _BIGRAM_WEIGHT if "_" in feature else weight

    def _cover_weight(self, feature: str) -> float:
        weight = self._weight(feature)
        return weight * _BIGRAM_COVER if "_" in feature else weight

    # --- search ----------------------------------------------------------------------

    def search(self, query: str, limit: int = 5) -> list[Hit]:
        """The best texts for `query`, one per key, best first."""
        tokens = self.analyze(query)
        if not tokens or not self.size:
            return []
        wanted = self._features(tokens)
        scores: dict[int, float] = defaultdict(float)
        for feature, count in wanted.items():
            if feature not in self.idf:
                continue
            weight = self._weight(feature)
            for number, frequency in self.postings[feature]:
                norm = _K1 * (1 - _B + _B * self.lengths[number] / self.average)
                scores[number] += count * weight * frequency * (_K1 + 1) / (frequency + norm)
        best: dict[str, tuple[float, int]] = {}
        for number, score in scores.items():
            key = self.keys[number]
            if key not in best or score > best[key][0]:
                best[key] = (score, number)
        ranked = sorted(best.items(), key=lambda item: -item[1][0])[: limit + _RERANK]
        weights = {f: self._cover_weight(f) for f in wanted}
        total = sum(weights.values())
        hits = []
        for key, (score, number) in ranked:
            by_key = sum(w for f, w in weights.items() if f in self.key_features[key])
            by_text = sum(w for f, w in weights.items() if f in self.text_features[number])
            coverage = (_KEY_SHARE * by_key + (1 - _KEY_SHARE) * by_text) / total
            hits.append(Hit(key, score, coverage, number))
        top = hits[0].score if hits else 1.0
        hits.sort(key=lambda h: -(h.coverage + h.score / top))
        return hits[:limit]


_QUESTION_START = re.compile(
    r"^(?:(?:cho|xin|muon|em|anh|chi|minh|toi|cho em|cho minh)\s+hoi\b|ai\b|gi\b|sao\b"
    r"|tai sao|vi sao|lam sao|lam the nao|the nao|nhu the nao|bao gio|khi nao|bao nhieu"
    r"|o dau|co duoc|co phai|co can|co bat buoc|neu\b|what|how|when|where|who|which|why"
    r"|can (?:i|we|a|the|our)\b|do (?:i|we|you)\b|does|is (?:it|there|the)\b|are (?:we|there)\b"
    r"|should|will)"
)
_QUESTION_INSIDE = re.compile(
    r"\b(?:bao gio|khi nao|bao nhieu|o dau|the nao|lam sao|thi sao|la gi|nhung gi|cai gi"
    r"|duoc khong|phai khong|co khong|khong a|chua a|gi a|gi vay|ai a|may ngay|ngay nao"
    r"|thang nao|nam nao)\b"
)


def looks_like_question(text: str) -> bool:
    """Is this clearly a question (not, say, a village's name typed into a form)?

    Ends with "?", starts with a question word ("bao gio", "co duoc", "how"...), or holds
    a question phrase ("... duoc khong", "... la gi"), shorthand allowed ("co dc ko").
    """
    if text.strip().endswith(("?", "？")):
        return True
    spelled = " ".join(words(text))
    return bool(_QUESTION_START.match(spelled) or _QUESTION_INSIDE.search(spelled))
