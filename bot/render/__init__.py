"""Standard Markdown in, platform text out: parsed into spans, split at the platform's limit, written in its format."""
