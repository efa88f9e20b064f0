"""The RQ job and everything one turn uses: the conversation and its lease, delivery, memory, limits, commands, handoff."""
