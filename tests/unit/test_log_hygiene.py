"""Control characters a client put in a string cannot forge or hide log lines:
the logging filter escapes them in everything substituted into a message."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from copilot_hybrid.logs import RedactingFilter, escape_control

FORGERY = "x\n12:00:00 ERROR copilot_hybrid.server: FORGED\r\x1b[2K\x1b[31m\x07\x00\x7f\x85\x9b\u2028"
ESCAPED = "x\\n12:00:00 ERROR copilot_hybrid.server: FORGED\\r\\x1b[2K\\x1b[31m\\x07\\x00\\x7f\\x85\\x9b\\u2028"


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("test.log_hygiene")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield logger, stream
    logger.removeHandler(handler)


def test_escape_control_covers_c0_del_c1_and_unicode_line_breaks() -> None:
    assert escape_control(FORGERY) == ESCAPED
    assert escape_control("tab\there") == "tab\\there"
    assert escape_control("plain text, ünïcødé, 日本語") == "plain text, ünïcødé, 日本語"


def test_arguments_are_escaped_and_the_template_is_kept(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = logged
    logger.info("messages: model %s -> %s, stream=%s, n=%d", FORGERY, "gpt-4.1", True, 3)
    logger.info("a template's own line break\nstays: %s", "x")
    lines = stream.getvalue().splitlines()
    assert lines == [
        f"INFO test.log_hygiene: messages: model {ESCAPED} -> gpt-4.1, stream=True, n=3",
        "INFO test.log_hygiene: a template's own line break",
        "stays: x",
    ]


def test_repr_mapping_and_object_arguments(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = logged
    logger.warning("repr %r", "a\nb")
    logger.warning("%(model)s!", {"model": "m\x1bn"})
    logger.warning("failed: %s", ValueError("bad\ninput"))
    assert stream.getvalue().splitlines() == [
        "WARNING test.log_hygiene: repr 'a\\nb'",
        "WARNING test.log_hygiene: m\\x1bn!",
        "WARNING test.log_hygiene: failed: bad\\ninput",
    ]


def test_a_message_without_arguments_is_escaped_whole(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = logged
    model = "a\nFORGED"
    logger.error(f"pre-formatted {model}")  # an f-string: what the filter must also cover
    assert stream.getvalue().splitlines() == ["ERROR test.log_hygiene: pre-formatted a\\nFORGED"]


def test_tracebacks_keep_their_lines_but_not_escape_sequences(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = logged
    try:
        raise RuntimeError("boom \x1b[31m ghp_abcdefghijklmnopqrstuvwxyz")
    except RuntimeError:
        logger.exception("request failed")
    text = stream.getvalue()
    assert text.startswith("ERROR test.log_hygiene: request failed\nTraceback (most recent call last):\n")
    assert "RuntimeError: boom \\x1b[31m [REDACTED]" in text
    assert "\x1b" not in text


def test_secrets_are_still_masked_in_escaped_arguments(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = logged
    logger.info("token %s", "\nghp_abcdefghijklmnopqrstuvwxyz")
    assert stream.getvalue() == "INFO test.log_hygiene: token \\n[REDACTED]\n"
