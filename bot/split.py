"""Where to cut a long text so each part fits a platform's limit and reads naturally."""

from __future__ import annotations

# Cut candidates, best first: (separator, may it fall inside code?). A blank line between
# blocks beats a line break, which beats a space; a code block is cut only when it alone
# is longer than the limit, and then at a line break. A hard cut is the last resort for a
# single "word" longer than the limit.
_PREFERENCES = (("\n\n", False), ("\n", False), ("\n", True), (" ", False), (" ", True))


def split_points(text: str, in_code: list[bool], limit: int) -> list[tuple[int, int]]:
    """Return (start, end) bounds of parts of `text`, each at most `limit` UTF-16 units long."""
    bounds: list[tuple[int, int]] = []
    start = _skip_space(text, in_code, 0)
    while start < len(text):
        end = _window_end(text, start, limit)
        if end == len(text):
            bounds.append((start, end))
            break
        cut, resume = _best_cut(text, in_code, start, end)
        bounds.append((start, cut))
        start = resume
    return bounds


def _window_end(text: str, start: int, limit: int) -> int:
    """The largest end such that text[start:end] fits in `limit` UTF-16 units."""
    units = 0
    for i in range(start, len(text)):
        units += 2 if ord(text[i]) > 0xFFFF else 1
        if units > limit:
            return max(i, start + 1)
    return len(text)


def _best_cut(text: str, in_code: list[bool], start: int, end: int) -> tuple[int, int]:
    """Pick the cut in text[start:end+1]: returns where this part ends and the next begins."""
    for separator, inside_code in _PREFERENCES:
        at = _last(text, in_code, separator, start, end, inside_code)
        if at is not None:
            after = at + len(separator)
            return at, after if inside_code else _skip_space(text, in_code, after)
    return end, end


def _last(text: str, in_code: list[bool], sep: str, start: int, end: int, inside_code: bool) -> int | None:
    """The last `sep` that starts after `start` and ends by `end + 1`, inside or outside code as asked."""
    at = text.rfind(sep, start + 1, end + len(sep))
    while at > start:
        if in_code[at] == inside_code:
            return at
        at = text.rfind(sep, start + 1, at)
    return None


def _skip_space(text: str, in_code: list[bool], i: int) -> int:
    """Skip the whitespace between parts, but never a code block's indentation."""
    while i < len(text) and text[i].isspace() and not in_code[i]:
        i += 1
    return i
