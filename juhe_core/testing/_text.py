"""Deterministic text utilities of the built-in model: tokens, pieces, words.

Tokens are words, single CJK characters and single punctuation marks. That is not any real
tokenizer; it only has to be deterministic, cheap, and roughly proportional to text length,
because usage numbers and ``max_tokens`` truncation are computed from it.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = [
    "STOPWORDS",
    "content_words",
    "count_tokens",
    "pieces",
    "stem",
    "summary",
    "truncate_tokens",
    "words",
]

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+|[^\w\s]")
_PIECE = re.compile(rf"\s*(?:[{_CJK}]|[^\W{_CJK}]+|[^\w\s])")
# Words for matching: identifiers are split on '_' and camelCase by words() below.
_WORD = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def count_tokens(text: str) -> int:
    """Number of tokens in ``text`` (words, CJK characters and punctuation marks)."""
    return len(_TOKEN.findall(text))


def pieces(text: str) -> list[str]:
    """``text`` cut into one piece per token, each with its leading whitespace.

    ``"".join(pieces(text)) == text`` always holds: trailing whitespace joins the last piece.
    """
    found = _PIECE.findall(text)
    consumed = sum(len(p) for p in found)
    rest = text[consumed:]
    if rest:
        if found:
            found[-1] += rest
        else:
            found.append(rest)
    return found


def truncate_tokens(text: str, limit: int) -> tuple[str, bool]:
    """The first ``limit`` tokens of ``text``, and whether anything was cut off."""
    parts = pieces(text)
    if len(parts) <= limit:
        return text, False
    return "".join(parts[: max(limit, 0)]), True


@lru_cache(maxsize=16384)
def stem(word: str) -> str:
    """Light normalisation: lower case and a plural ``s``/``es``/``ies`` removed."""
    word = word.lower()
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


_STOPWORDS_TEXT = """a an and are as at be by can could do does for from get give has have how i in
is it its me my of on or please the this that to was what when where which who why will with
would you your use using call tool tools some any all into about than then there their them
they we our us should must may might just also"""

STOPWORDS: frozenset[str] = frozenset(stem(w) for w in _STOPWORDS_TEXT.split())
"""Words (stemmed) too common to count as overlap between a request and a tool or a document."""


def words(text: str) -> list[str]:
    """Stemmed lower-case words of ``text``; identifiers split on ``_`` and camelCase."""
    spaced = _CAMEL.sub(" ", text)
    return [stem(w) for w in _WORD.findall(spaced)]


def content_words(text: str) -> list[str]:
    """``words(text)`` without stop words."""
    return [w for w in words(text) if w not in STOPWORDS]


def summary(text: str, limit: int = 200) -> str:
    """``text`` on one line, shortened to about ``limit`` characters."""
    one_line = " ".join(text.split())
    if len(one_line) <= limit:
        return one_line
    return one_line[: limit - 1].rstrip() + "…"
