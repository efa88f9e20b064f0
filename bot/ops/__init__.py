"""What operators use: the outcome ledger, dead letters, rejected payloads, metrics, logs, checks, erasure, the CLI."""
