"""The order service of the order-desk example (docs/tools.md): the endpoint the bot's lookup_order tool calls.

Run it beside the bot, with the bot's TOOLS_WEBHOOK_SECRET:  TOOLS_WEBHOOK_SECRET=whsec_... python docs/order_service.py
It checks each call's signature with the Standard Webhooks library, then answers from its few orders.
"""

import os

from flask import Flask, abort, jsonify, request
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

ORDERS = {
    "1042": {"status": "shipped", "carrier": "DHL", "tracking": "https://track.example.com/JD0146", "expected": "2027-01-08"},
    "1043": {"status": "being packed", "expected": "2027-01-11"},
}

app = Flask(__name__)


@app.post("/bot-tools/lookup-order")
def lookup_order():
    try:
        call = Webhook(os.environ["TOOLS_WEBHOOK_SECRET"]).verify(request.get_data(), request.headers)
    except WebhookVerificationError:
        abort(401)  # not signed by our bot
    number = str(call["data"]["arguments"]["order"]).lstrip("#")
    if number not in ORDERS:
        return jsonify(order=number, found=False)
    return jsonify(order=number, found=True, **ORDERS[number])


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=5001)
