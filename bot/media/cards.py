"""Shared places and contact cards as the model reads them: a line of text each, instead of the non-text notice."""

from __future__ import annotations


def location(latitude: float, longitude: float, *details: str) -> str:
    """"Location: 52.52, 13.405 (Brandenburg Gate, Pariser Platz)": the coordinates, then the name and address given."""
    named = ", ".join(detail.strip() for detail in details if detail and detail.strip())
    return f"Location: {round(latitude, 6)}, {round(longitude, 6)}" + (f" ({named})" if named else "")


def contact(name: str, *phones: str) -> str:
    """"Contact: Ada Lovelace, +44 20 7946 0000": a card's name and phone numbers."""
    return "Contact: " + ", ".join(part.strip() for part in (name, *phones) if part and part.strip())
