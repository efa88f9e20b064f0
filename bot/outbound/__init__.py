"""What the bot sends on its own: proactive and scheduled messages, recurring triggers, outbound events."""
