"""copilot-hybrid: a GitHub Copilot proxy speaking the OpenAI and Anthropic APIs,
with hot paths moved feature by feature into a native Zig core."""

__version__ = "0.1.0"
