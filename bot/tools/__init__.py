"""Tools: functions the model may call before it answers, each called at most once a turn.

files     tool files (prompts/tools/<name>.yaml) and the MCP servers' file (prompts/mcp.yaml), read and checked
catalog   which tools a prompt offers, hot-reloaded with a last good version; the checks of `flask prompts check`
webhook   a webhook tool's call: a POST signed as Standard Webhooks, to an allowed URL
mcp       an MCP server's tools, listed and called through the official SDK over streamable HTTP
journal   each call written to the turn's state before it is sent and its result after, so no retry repeats it
loop      the rounds of calls and model answers, replayed from the journal when a turn is retried
"""
