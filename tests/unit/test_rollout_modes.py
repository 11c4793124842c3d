"""Modes, sticky bucketing and the precedence of where a mode comes from."""

from __future__ import annotations

from pathlib import Path

import pytest

from copilot_hybrid.rollout import settings
from copilot_hybrid.rollout.modes import BUCKETS, OFF, ON, SHADOW, Mode, bucket, in_percent, parse_mode


class TestParseMode:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("off", OFF),
            ("SHADOW", SHADOW),
            (" on ", ON),
            ("percent:25", Mode("percent", 25.0)),
            ("percent:0.5", Mode("percent", 0.5)),
        ],
    )
    def test_valid(self, text: str, expected: Mode) -> None:
        assert parse_mode(text) == expected

    @pytest.mark.parametrize("text", ["", "maybe", "percent:", "percent:101", "percent:-1", "percent:x", "percent:nan"])
    def test_invalid_names_the_value(self, text: str) -> None:
        with pytest.raises(ValueError, match=r"mode|percentage"):
            parse_mode(text)

    def test_round_trip_through_str(self) -> None:
        for mode in (OFF, SHADOW, ON, Mode("percent", 12.5)):
            assert parse_mode(str(mode)) == mode


class TestBucket:
    def test_known_answer(self) -> None:
        """Frozen mapping: a change here would re-bucket every running rollout."""
        assert (
            bucket("tokenizer", "client-1") == 5425
        )  # sha256("tokenizer:client-1")[:8] % 10000, computed with sha256sum
        assert bucket("rate_limit", "client-1") == 8905

    def test_range_and_spread(self) -> None:
        values = [bucket("tokenizer", f"k{i}") for i in range(4000)]
        assert all(0 <= v < BUCKETS for v in values)
        share = sum(v < BUCKETS // 4 for v in values) / len(values)
        assert 0.22 < share < 0.28

    def test_raising_the_percentage_keeps_everyone_already_in(self) -> None:
        keys = [f"user-{i}" for i in range(2000)]
        at_10 = {k for k in keys if in_percent("tokenizer", k, 10)}
        at_20 = {k for k in keys if in_percent("tokenizer", k, 20)}
        assert at_10 and at_10 < at_20
        assert not any(in_percent("tokenizer", k, 0) for k in keys)
        assert all(in_percent("tokenizer", k, 100) for k in keys)

    def test_features_bucket_independently(self) -> None:
        keys = [f"user-{i}" for i in range(500)]
        a = {k for k in keys if in_percent("tokenizer", k, 50)}
        b = {k for k in keys if in_percent("rate_limit", k, 50)}
        assert a != b


class TestPrecedence:
    def test_default(self) -> None:
        got = settings.configured_mode("tokenizer", SHADOW)
        assert (got.mode, got.source) == (SHADOW, "default")

    def test_config_beats_default_and_env_beats_config(
        self, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        (isolated_home / "config.toml").write_text('[features]\ntokenizer = "percent:30"\n')
        got = settings.configured_mode("tokenizer", SHADOW)
        assert (got.mode, got.source) == (Mode("percent", 30.0), "config")
        monkeypatch.setenv("COPILOT_HYBRID_FEATURE_TOKENIZER", "off")
        got = settings.configured_mode("tokenizer", SHADOW)
        assert (got.mode, got.source) == (OFF, "env")

    def test_bad_values_fall_through_with_a_warning(self, isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        (isolated_home / "config.toml").write_text('[features]\ntokenizer = "sometimes"\n')
        monkeypatch.setenv("COPILOT_HYBRID_FEATURE_TOKENIZER", "bogus")
        got = settings.configured_mode("tokenizer", SHADOW)
        assert got.mode == SHADOW and got.source == "default"
        assert len(got.warnings) == 2

    def test_unparsable_file_is_reported_not_raised(self, isolated_home: Path) -> None:
        (isolated_home / "config.toml").write_text("[features\n")
        got = settings.configured_mode("tokenizer", SHADOW)
        assert got.mode == SHADOW and "ignoring" in got.warnings[0]

    def test_write_keeps_other_features(self, isolated_home: Path) -> None:
        settings.write_feature_mode("tokenizer", ON)
        settings.write_feature_mode("rate_limit", Mode("percent", 5.0))
        file = settings.read_file()
        assert file.features == {"tokenizer": "on", "rate_limit": "percent:5"}
