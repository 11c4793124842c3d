"""Model resolution: the model id a client sends -> the Copilot model that serves it.

Rules, first match wins:

1. A user alias (`--model-alias FROM=TO`, then `[models.aliases]` in
   config.toml; matched without case, with or without Claude Code's `[1m]`
   suffix). Its target is resolved by the rules below, without aliases.
2. An id Copilot lists, exactly, then without regard to case.
3. Claude Code's spellings: the `[1m]` context marker prefers a listed `-1m`
   variant and is dropped otherwise; a date (`-20250929`, `-latest`) is
   dropped; `4-6` becomes `4.6` (`claude-opus-4-6` -> `claude-opus-4.6`), and
   Copilot's own spelling of a few (`claude-opus-41`) is tried too.
4. A bare tier name (`opus`, `sonnet`, `haiku`) is the newest listed model of
   that tier.

Never a different version: a plan without `claude-opus-5.5` answers
`claude-opus-5-5` with ModelNotAvailable (in the caller's format: a 400 for
Anthropic callers, whose Claude Code would hide a 404's message, a 404 for OpenAI's),
whose message lists the plan's models of the same family, the newest one
of that vendor, and how to choose (`claude --model`, `ANTHROPIC_MODEL`, an
alias). Suggestions name only the models Copilot offers in its picker;
an exact id works for every listed entry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Final, Literal

from copilot_hybrid.copilot.registry import ModelInfo
from copilot_hybrid.errors import ConfigError, ModelNotAvailable

__all__ = [
    "Caller",
    "copilot_spellings",
    "merge_aliases",
    "model_line",
    "newest_first",
    "normalize_model",
    "parse_model_alias",
    "resolve_model",
]

Caller = Literal["anthropic", "openai"]

_CONTEXT_SUFFIX = re.compile(r"\[[^\]]*\]$")  # Claude Code's "[1m]" context marker
_DATE_SUFFIX = re.compile(r"-(?:\d{8}|latest)$")
_NEW_STYLE = re.compile(r"claude-(opus|sonnet|haiku)-(\d+)(?:[-.](\d{1,2}))?")
_OLD_STYLE = re.compile(r"claude-(\d+)(?:[-.](\d{1,2}))?-(opus|sonnet|haiku)")
# Copilot spells a few models its own way.
_COPILOT_SPELLING: Final = {"claude-opus-4.1": "claude-opus-41"}
_TIERS: Final = ("haiku", "sonnet", "opus")  # ascending, for "newest" ordering
_INTERNAL = "-internal"


def _context_marker(model: str) -> tuple[str, str | None]:
    """(the id without `[...]`, the marker's text such as `1m`, or None)."""
    match = _CONTEXT_SUFFIX.search(model)
    if match is None:
        return model.strip(), None
    return model[: match.start()].strip(), match.group(0)[1:-1].strip().lower() or None


def copilot_spellings(model: str) -> list[str]:
    """Copilot spellings for a client model id, best first (no catalogue needed)."""
    stripped, _ = _context_marker(model)
    lower = stripped.lower()
    if not lower.startswith("claude-"):
        return [stripped]
    bare = _DATE_SUFFIX.sub("", lower)
    match = _NEW_STYLE.fullmatch(bare)
    if match:
        family, major, minor = match.groups()
        if minor is None:
            return [f"claude-{family}-{major}"]
        dotted = f"claude-{family}-{major}.{minor}"
        forms = [dotted, f"claude-{family}-{major}{minor}", f"claude-{family}-{major}-{minor}"]
        special = _COPILOT_SPELLING.get(dotted)
        return [special, *(f for f in forms if f != special)] if special else forms
    match = _OLD_STYLE.fullmatch(bare)
    if match:
        major, minor, family = match.groups()
        if minor is None:
            return [f"claude-{major}-{family}"]
        return [f"claude-{major}.{minor}-{family}", f"claude-{major}-{minor}-{family}"]
    return [bare]


def _candidates(model: str) -> list[str]:
    """Every id to look for, best first: the id itself, then its Copilot spellings,
    each preceded by its long-context variant when the client asked for one."""
    _, marker = _context_marker(model)
    forms = [model, *copilot_spellings(model)]
    if marker is None:
        return forms
    variants: list[str] = []
    for form in forms[1:]:
        if form.endswith(_INTERNAL):  # caozhiyuan: claude-opus-4.7-internal[1m] -> claude-opus-4.7-1m-internal
            variants.append(f"{form[: -len(_INTERNAL)]}-{marker}{_INTERNAL}")
        variants.append(f"{form}-{marker}")
        variants.append(form)
    return [model, *variants]


def normalize_model(model: str, known_models: Collection[str] = ()) -> str:
    """Maps a client model id (e.g. Claude Code's `claude-sonnet-4-5-20250929`)
    to the id Copilot knows (`claude-sonnet-4.5`).

    An id Copilot lists is kept as is. Otherwise the `[1m]` suffix and the
    date are dropped and `4-5` becomes `4.5`; when `known_models` is given the
    first spelling it contains wins, else the canonical Copilot spelling is
    returned. Never maps to a different model version (copilot-api's quirk:
    every `claude-sonnet-4-*` became `claude-sonnet-4`).
    """
    if model in known_models:
        return model
    if known_models:
        by_lower = {m.lower(): m for m in known_models if isinstance(m, str)}
        for candidate in _candidates(model):
            if candidate.lower() in by_lower:
                return by_lower[candidate.lower()]
    return copilot_spellings(model)[0]


# ---- families and "newest" ------------------------------------------------------------

_NUMBER = re.compile(r"(?<![a-z])(\d+)(?:[.-](\d{1,2})(?!\d))?")


def model_line(model_id: str) -> str:
    """The family a suggestion is drawn from: `claude-opus`, `claude-sonnet`,
    `claude-haiku` for Claude ids (either spelling), else the id's leading
    letters (`gpt`, `gemini`, `o`, `grok`, ...)."""
    lower = _context_marker(model_id)[0].lower()
    if lower.startswith("claude"):
        tier = next((t for t in _TIERS if t in lower), None)
        return f"claude-{tier}" if tier else "claude"
    match = re.match(r"[a-z]+", lower)
    return match.group(0) if match else lower


def _version(model_id: str) -> tuple[int, int]:
    lower = _DATE_SUFFIX.sub("", _context_marker(model_id)[0].lower())
    match = _NUMBER.search(lower)
    if match is None:
        return (0, 0)
    major, minor = int(match.group(1)), int(match.group(2) or 0)
    if lower.startswith("claude") and match.group(2) is None and major >= 10:
        major, minor = divmod(major, 10)  # Copilot's claude-opus-41 is 4.1
    return (major, minor)


def _newness(model: ModelInfo) -> tuple[tuple[int, int], int, bool, str]:
    lower = model.id.lower()
    tier = next((i for i, t in enumerate(_TIERS, 1) if t in lower), 0)
    return (_version(model.id), tier, not model.preview, model.id)


def newest_first(models: Iterable[ModelInfo]) -> list[ModelInfo]:
    """By version number in the id (`4.8` > `4.6`), then tier (opus > sonnet > haiku),
    then released over preview; Copilot's catalogue has no dates."""
    return sorted(models, key=_newness, reverse=True)


def _suggestable(models: Iterable[ModelInfo], usable: Callable[[ModelInfo], bool] | None) -> list[ModelInfo]:
    return [m for m in models if m.picker_enabled and m.type == "chat" and (usable is None or usable(m))]


def _vendor_line(model_id: str) -> str:
    line = model_line(model_id)
    return "claude" if line.startswith("claude") else line


# ---- resolution ---------------------------------------------------------------------------


def _lookup(requested: str, models: Mapping[str, ModelInfo]) -> ModelInfo | None:
    by_lower = {m.lower(): info for m, info in models.items()}
    for candidate in _candidates(requested):
        found = models.get(candidate) or by_lower.get(candidate.lower())
        if found is not None:
            return found
    tier = requested.strip().lower()
    if tier in _TIERS:
        listed = newest_first(m for m in models.values() if model_line(m.id) == f"claude-{tier}" and m.type == "chat")
        if listed:
            return listed[0]
    return None


def _alias_target(requested: str, aliases: Mapping[str, str]) -> str | None:
    by_lower = {k.strip().lower(): v for k, v in aliases.items()}
    bare, _ = _context_marker(requested)
    for key in (requested.strip().lower(), bare.lower()):
        if key in by_lower:
            return by_lower[key]
    return None


def resolve_model(
    requested: str,
    models: Iterable[ModelInfo],
    *,
    aliases: Mapping[str, str] | None = None,
    caller: Caller = "anthropic",
    usable: Callable[[ModelInfo], bool] | None = None,
) -> ModelInfo:
    """The Copilot model for a client's model id, by the rules of this module.

    `aliases` is the merged table (`merge_aliases`); `caller` and `usable` (the
    models the caller's API can reach) only shape the advice in the error, which
    never suggests a model the caller could not use. Raises ModelNotAvailable
    when the plan lacks it.
    """
    by_id = {m.id: m for m in models}
    target = _alias_target(requested, aliases or {})
    found = _lookup(target if target is not None else requested, by_id)
    if found is not None:
        return found
    raise _not_available(requested, target, list(by_id.values()), caller, usable)


def _display_line(line: str) -> str:
    if line.startswith("claude-"):
        return f"Claude {line.split('-', 1)[1].capitalize()}"
    return {"claude": "Claude", "gpt": "GPT", "o": "OpenAI o-series"}.get(line, line.capitalize())


def _not_available(
    requested: str,
    alias_target: str | None,
    models: list[ModelInfo],
    caller: Caller,
    usable: Callable[[ModelInfo], bool] | None,
) -> ModelNotAvailable:
    wanted = alias_target if alias_target is not None else requested
    offered = _suggestable(models, usable)
    line = model_line(wanted)
    same_family = tuple(m.id for m in newest_first(m for m in offered if model_line(m.id) == line))
    vendor = _vendor_line(wanted)
    same_vendor = newest_first(m for m in offered if _vendor_line(m.id) == vendor)
    pool = same_vendor or newest_first(offered)
    newest = pool[0].id if pool else None

    spelled = copilot_spellings(wanted)[0]
    name = f"`{requested}`"
    if alias_target is not None:
        name += f" (your alias for `{alias_target}`)"
    elif spelled != requested:
        name += f" (Copilot id `{spelled}`)"
    parts = [f"Model {name} is not available on this Copilot plan."]
    if same_family:
        parts.append(f"{_display_line(line)} models it offers: {', '.join(same_family)}.")
    else:
        parts.append(f"It offers no {_display_line(line)} model.")
    if newest is not None and newest not in same_family[:1]:
        label = f"newest {_display_line(vendor)} model" if same_vendor else "newest model"
        parts.append(f"The {label}: {newest}.")
    pick = same_family[0] if same_family else newest
    if pick is not None:
        if caller == "anthropic":
            how = f"Choose one with `claude --model {pick}` or `ANTHROPIC_MODEL={pick}`"
        else:
            how = f'Choose one in the request (`"model": "{pick}"`)'
        parts.append(
            f"{how}, or map the id for every client: `copilot-hybrid serve --model-alias {requested}={pick}` "
            f'or `"{requested}" = "{pick}"` under [models.aliases] in config.toml.'
        )
    return ModelNotAvailable(
        requested, " ".join(parts), same_family=same_family, newest=newest, anthropic=caller == "anthropic"
    )


# ---- aliases --------------------------------------------------------------------------------


def parse_model_alias(text: str) -> tuple[str, str]:
    """`FROM=TO` (one `--model-alias` value) -> (FROM, TO); ConfigError when malformed."""
    source, sep, target = text.partition("=")
    source, target = source.strip(), target.strip()
    if not sep or not source or not target:
        raise ConfigError(f"--model-alias takes FROM=TO (e.g. claude-opus-5-5=claude-opus-4.8), not {text!r}")
    return source, target


def merge_aliases(*tables: Mapping[str, str]) -> dict[str, str]:
    """One alias table from several, later ones winning (config file, then --model-alias)."""
    merged: dict[str, str] = {}
    for table in tables:
        for source, target in table.items():
            for key in [k for k in merged if k.lower() == source.lower()]:
                del merged[key]
            merged[source] = target
    return merged
