"""Pure translation between the Anthropic Messages API and Copilot's OpenAI
chat-completions API, plus copilot-api's token-count arithmetic. No I/O."""

from __future__ import annotations

from copilot_hybrid.errors import TranslationError

from .anthropic_request import anthropic_to_openai
from .anthropic_response import (
    anthropic_error,
    anthropic_error_from_upstream,
    anthropic_usage,
    error_type_for_status,
    map_stop_reason,
    openai_to_anthropic,
    parse_tool_arguments,
)
from .anthropic_stream import AnthropicStreamTranslator, completion_as_chunk, format_sse
from .token_count import TokenCount, count_anthropic_request_tokens, count_openai_payload_tokens

__all__ = [
    "AnthropicStreamTranslator",
    "TokenCount",
    "TranslationError",
    "anthropic_error",
    "anthropic_error_from_upstream",
    "anthropic_to_openai",
    "anthropic_usage",
    "completion_as_chunk",
    "count_anthropic_request_tokens",
    "count_openai_payload_tokens",
    "error_type_for_status",
    "format_sse",
    "map_stop_reason",
    "openai_to_anthropic",
    "parse_tool_arguments",
]
