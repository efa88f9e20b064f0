"""Business events in: what Stripe, Shopify, GitHub, PayPal, HubSpot and Mailchimp report, turned into messages.

Not to be confused with bot/outbound/events.py, the conversation events the bot sends out.
"""
