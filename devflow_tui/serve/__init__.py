"""The local proxy (`devflow serve`: Anthropic- and OpenAI-compatible) and the MCP server
(`devflow mcp`). Clients of the gateway, like `tui/` and `cli.py`; the core never imports them."""
