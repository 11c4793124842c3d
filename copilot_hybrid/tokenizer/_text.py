"""The Python boundary: one text rule for both backends.

Both backends tokenize *ordinary* text: special-token text such as
"<|endoftext|>" is plain text (tiktoken's `encode_ordinary`), so counting a
prompt never fails on it.

Lone surrogates follow tiktoken's rule, written once here (`fix_surrogates`)
and applied before either backend sees the text: a str that is not valid
UTF-8 is re-read through UTF-16, so a valid pair stored as two code points
becomes the astral character and a lone surrogate becomes U+FFFD.
"""

from __future__ import annotations


def fix_surrogates(text: str) -> str:
    """tiktoken's rule for a str that is not valid UTF-8 (lone surrogates)."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def check_text(text: object) -> str:
    if not isinstance(text, str):
        raise TypeError(f"text must be str, not {type(text).__name__}")
    return text


def clean_text(text: str) -> str:
    """`text` as the reference tokenizes it."""
    if check_text(text).isascii():  # O(1) in CPython: a flag of the str
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return fix_surrogates(text)
    return text


def utf8_text(text: str) -> bytes:
    """The UTF-8 the native core tokenizes: one encode on the common path."""
    try:
        return check_text(text).encode("utf-8")
    except UnicodeEncodeError:
        return fix_surrogates(text).encode("utf-8")
