"""Model resolution: Claude Code's ids, aliases (config file and --model-alias),
and the error for a model the plan lacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from copilot_hybrid.config import model_aliases, read_config_file
from copilot_hybrid.copilot.registry import ModelInfo, parse_models
from copilot_hybrid.copilot.resolution import (
    copilot_spellings,
    merge_aliases,
    model_line,
    newest_first,
    parse_model_alias,
    resolve_model,
)
from copilot_hybrid.emulator.catalog import default_models
from copilot_hybrid.errors import ConfigError, ModelNotAvailable

CATALOG = parse_models({"data": default_models()})


def plan_without(*ids: str) -> list[ModelInfo]:
    return [m for m in CATALOG if m.id not in ids]


def model(model_id: str, **fields: object) -> ModelInfo:
    parsed = ModelInfo.from_entry({"id": model_id, "model_picker_enabled": True, **fields})
    assert parsed is not None
    return parsed


# --------------------------------------------------------------------------- Claude Code's ids


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        # What Claude Code 2.1.332 sends: its default, and --model sonnet / haiku.
        ("claude-opus-5-5", "claude-opus-5.5"),
        ("claude-sonnet-5-5", "claude-sonnet-5.5"),
        ("claude-haiku-5-5", "claude-haiku-5.5"),
        ("claude-opus-5", "claude-opus-5"),
        ("claude-sonnet-4-6", "claude-sonnet-4.6"),
        ("claude-opus-4-8", "claude-opus-4.8"),
        # Dated ids and the [1m] context marker.
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4.5"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4.5"),
        ("claude-opus-4-1-20250805", "claude-opus-4.1"),
        ("claude-opus-4-6[1m]", "claude-opus-4.6"),
        ("claude-opus-5-5[1m]", "claude-opus-5.5"),
        # Copilot ids themselves, in any case.
        ("claude-opus-4.6", "claude-opus-4.6"),
        ("Claude-Sonnet-4.6", "claude-sonnet-4.6"),
        ("gpt-5.3-codex", "gpt-5.3-codex"),
        # A bare tier is the newest of that tier.
        ("opus", "claude-opus-5.5"),
        ("Sonnet", "claude-sonnet-5.5"),
        ("haiku", "claude-haiku-5.5"),
    ],
)
def test_claude_code_ids_resolve(requested: str, expected: str) -> None:
    assert resolve_model(requested, CATALOG).id == expected


def test_the_1m_marker_prefers_a_listed_long_context_variant() -> None:
    plan = [model("claude-opus-4.6"), model("claude-opus-4.6-1m"), model("claude-opus-4.7-1m-internal")]
    assert resolve_model("claude-opus-4-6[1m]", plan).id == "claude-opus-4.6-1m"
    assert resolve_model("claude-opus-4-6", plan).id == "claude-opus-4.6"
    # caozhiyuan's spelling of an internal long-context model.
    assert resolve_model("claude-opus-4.7-internal[1m]", plan).id == "claude-opus-4.7-1m-internal"


def test_copilot_spellings() -> None:
    assert copilot_spellings("claude-opus-5-5[1m]") == ["claude-opus-5.5", "claude-opus-55", "claude-opus-5-5"]
    assert copilot_spellings("claude-opus-4-1")[0] == "claude-opus-41"  # Copilot's own spelling first
    assert copilot_spellings("claude-3-7-sonnet-latest") == ["claude-3.7-sonnet", "claude-3-7-sonnet"]
    assert copilot_spellings("gpt-5[1m]") == ["gpt-5"]


def test_an_exact_entry_works_even_when_hidden_from_the_picker() -> None:
    assert resolve_model("gpt-4o-mini", CATALOG).id == "gpt-4o-mini"


# --------------------------------------------------------------------------- aliases


def test_aliases_win_and_are_resolved_themselves() -> None:
    aliases = {"claude-opus-5-5": "claude-opus-4-8", "gpt-4.1": "gpt-5.4"}
    assert resolve_model("claude-opus-5-5", CATALOG, aliases=aliases).id == "claude-opus-4.8"
    assert resolve_model("CLAUDE-OPUS-5-5[1m]", CATALOG, aliases=aliases).id == "claude-opus-4.8"
    # An alias wins even over an id Copilot lists.
    assert resolve_model("gpt-4.1", CATALOG, aliases=aliases).id == "gpt-5.4"
    assert resolve_model("claude-sonnet-4-6", CATALOG, aliases=aliases).id == "claude-sonnet-4.6"


def test_an_alias_to_a_missing_model_says_so() -> None:
    with pytest.raises(ModelNotAvailable) as caught:
        resolve_model("big", CATALOG, aliases={"big": "claude-opus-9"})
    assert "`big` (your alias for `claude-opus-9`)" in caught.value.message


def test_cli_aliases_win_over_the_config_file() -> None:
    file = {"claude-opus-5-5": "claude-opus-4.6", "x": "y"}
    cli = dict([parse_model_alias("CLAUDE-OPUS-5-5=claude-opus-4.8")])
    assert merge_aliases(file, cli) == {"x": "y", "CLAUDE-OPUS-5-5": "claude-opus-4.8"}
    assert resolve_model("claude-opus-5-5", CATALOG, aliases=merge_aliases(file, cli)).id == "claude-opus-4.8"


@pytest.mark.parametrize("bad", ["no-equals", "=to", "from=", " = "])
def test_a_malformed_model_alias_flag_is_a_config_error(bad: str) -> None:
    with pytest.raises(ConfigError, match="FROM=TO"):
        parse_model_alias(bad)


def test_aliases_from_config_toml(isolated_home: Path) -> None:
    (isolated_home / "config.toml").write_text(
        '[models.aliases]\n"claude-opus-5-5" = "claude-opus-4.8"\nsonnet = " claude-sonnet-4.6 "\n'
    )
    assert model_aliases() == {"claude-opus-5-5": "claude-opus-4.8", "sonnet": "claude-sonnet-4.6"}
    (isolated_home / "config.toml").write_text("[models.aliases]\nx = 3\n")
    with pytest.raises(ConfigError, match=r"\[models.aliases\] 'x' must map to a model id string"):
        model_aliases()
    (isolated_home / "config.toml").write_text("[models]\naliases = 'nope'\n")
    with pytest.raises(ConfigError, match="must be a table"):
        model_aliases(read_config_file())
    (isolated_home / "config.toml").unlink()
    assert model_aliases() == {}


# --------------------------------------------------------------------------- the plan lacks it


def test_a_model_the_plan_lacks_names_it_its_family_the_newest_and_how_to_choose() -> None:
    plan = plan_without("claude-opus-5.5", "claude-opus-5")
    with pytest.raises(ModelNotAvailable) as caught:
        resolve_model("claude-opus-5-5", plan)
    error = caught.value
    # A 400 for Anthropic callers: Claude Code shows a 400's message, and replaces a 404's with its own.
    assert error.status == 400 and error.type == "invalid_request_error" and error.param == "model"
    assert error.code == "model_not_found"
    with pytest.raises(ModelNotAvailable) as openai_caught:
        resolve_model("claude-opus-5-5", plan, caller="openai")
    assert openai_caught.value.status == 404  # OpenAI's own answer for an unknown model
    assert error.same_family == ("claude-opus-4.8", "claude-opus-4.7", "claude-opus-4.6", "claude-opus-4.1")
    assert error.newest == "claude-sonnet-5.5"  # the newest Claude model of any tier
    message = error.message
    assert message.startswith("Model `claude-opus-5-5` (Copilot id `claude-opus-5.5`) is not available")
    assert (
        "Claude Opus models it offers: claude-opus-4.8, claude-opus-4.7, claude-opus-4.6, claude-opus-4.1." in message
    )
    assert "The newest Claude model: claude-sonnet-5.5." in message
    assert "`claude --model claude-opus-4.8`" in message and "`ANTHROPIC_MODEL=claude-opus-4.8`" in message
    assert "--model-alias claude-opus-5-5=claude-opus-4.8" in message and "[models.aliases]" in message


def test_the_newest_overall_is_named_when_it_is_not_in_the_family() -> None:
    plan = plan_without("claude-haiku-5.5")
    with pytest.raises(ModelNotAvailable) as caught:
        resolve_model("claude-haiku-5-5", plan)
    assert caught.value.same_family == ("claude-haiku-4.5",)
    assert caught.value.newest == "claude-opus-5.5"
    assert "The newest Claude model: claude-opus-5.5." in caught.value.message


def test_a_family_the_plan_lacks_entirely() -> None:
    plan = [m for m in CATALOG if "haiku" not in m.id]
    with pytest.raises(ModelNotAvailable) as caught:
        resolve_model("claude-haiku-4-5", plan)
    assert caught.value.same_family == ()
    assert "It offers no Claude Haiku model. The newest Claude model: claude-opus-5.5." in caught.value.message
    assert "`claude --model claude-opus-5.5`" in caught.value.message


def test_openai_callers_are_told_to_change_the_request() -> None:
    with pytest.raises(ModelNotAvailable) as caught:
        resolve_model("gpt-9", CATALOG, caller="openai")
    message = caught.value.message
    assert message.startswith("Model `gpt-9` is not available on this Copilot plan.")
    assert caught.value.same_family[0] == "gpt-5.5"
    assert '(`"model": "gpt-5.5"`)' in message and "ANTHROPIC_MODEL" not in message


def test_an_empty_plan_still_explains() -> None:
    with pytest.raises(ModelNotAvailable) as caught:
        resolve_model("claude-opus-5-5", [])
    assert caught.value.newest is None
    assert caught.value.message.endswith("It offers no Claude Opus model.")


def test_newest_first_and_model_lines() -> None:
    ids = ["claude-opus-41", "claude-opus-4.8", "claude-sonnet-4.8", "claude-opus-5", "gpt-4o", "claude-3.7-sonnet"]
    assert [m.id for m in newest_first(model(i) for i in ids)] == [
        "claude-opus-5",
        "claude-opus-4.8",
        "claude-sonnet-4.8",
        "claude-opus-41",
        "gpt-4o",
        "claude-3.7-sonnet",
    ]
    assert model_line("claude-3-7-sonnet-20250219") == "claude-sonnet"
    assert model_line("claude-opus-5-5[1m]") == "claude-opus"
    assert model_line("gpt-5.3-codex") == "gpt" and model_line("o3-mini") == "o"
