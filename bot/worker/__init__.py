"""The worker process: its sweeper, its slots (turns at once), and `make run`'s local server."""
