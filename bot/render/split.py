"""Where to cut a long text so each part fits a platform's limit, takes no more parts than it must, and reads naturally."""

from __future__ import annotations

import unicodedata
from bisect import bisect_left, bisect_right
from typing import Callable

# Cut candidates, best first: (separator, may it fall inside code?). A blank line between
# blocks beats a line break, which beats a space; a code block is cut only when it alone
# is longer than the limit, and then at a line break. A hard cut is the last resort for a
# single "word" longer than half the limit.
_PREFERENCES = (("\n\n", False), ("\n", False), ("\n", True), (" ", False), (" ", True))

Cut = tuple[int, int]  # where a part ends, where the next begins


class Splitter:
    """Cuts `text` into parts whose `cost(start, end)`, the length the platform counts as rendered, is at most `limit`.

    The cost must never fall when a part grows. `units` are (start, end) runs, such as code blocks, that begin
    a part of their own when they do not fit in what is left of one, and are never cut when they fit in a whole
    part. Every part but the last is at least half the limit unless such a unit ends it early. The part count is
    the one cutting each part as late as possible gives; within it, every cut is the most natural one.
    """

    def __init__(self, text: str, in_code: list[bool], units: list[Cut], cost: Callable[[int, int], int], limit: int) -> None:
        self.text, self.in_code, self.cost, self.limit = text, in_code, cost, limit
        self.unit = [-1] * len(text)  # where the unit holding each character starts, -1 outside any
        self.whole = [False] * len(text)  # inside a unit that fits in a part: never cut there
        for start, end in units:
            self.unit[start:end] = [start] * (end - start)
            if cost(start, end) <= limit:
                self.whole[start:end] = [True] * (end - start)
        self.options: dict[int, list[Cut]] = {}
        self.counts: dict[int, int] = {}

    def bounds(self) -> list[Cut]:
        """The (start, end) bounds of the parts."""
        out, start = [], self._skip_space(0)
        budget = self._count(start)
        while start < len(self.text):
            end, resume = next(cut for cut in self._options_at(start) if self._count(cut[1]) < budget)
            out.append((start, end))
            start, budget = resume, budget - 1
        return out

    def _count(self, start: int) -> int:
        """How many parts the text from `start` takes when each part ends at its latest cut."""
        path = []
        while start < len(self.text) and start not in self.counts:
            path.append(start)
            start = self._options_at(start)[-1][1]
        total = self.counts.get(start, 0)
        for at in reversed(path):
            total += 1
            self.counts[at] = total
        return total

    def _options_at(self, start: int) -> list[Cut]:
        if start not in self.options:
            self.options[start] = self._options(start)
        return self.options[start]

    def _options(self, start: int) -> list[Cut]:
        """Where the part from `start` may end, most natural first; the last is the latest."""
        end = self._window_end(start)
        if end == len(self.text):
            return [(end, end)]
        unit = self.unit[end] if self.unit[end] > start else None  # a unit that does not fit in what is left
        hi = end if unit is None else unit - 1  # where the last separator may start: before that unit, if any
        found = self._separators(self._half(start, hi), hi)
        return found + [max(found, key=lambda cut: cut[1]) if found else self._fallback(start, end, unit)]

    def _window_end(self, start: int) -> int:
        """The largest end such that text[start:end] fits (at least one character, whatever it costs)."""
        fits = bisect_right(range(start + 1, len(self.text) + 1), self.limit, key=lambda end: self.cost(start, end))
        return start + max(fits, 1)

    def _half(self, start: int, hi: int) -> int:
        """The first end, up to `hi + 1`, at which the part from `start` is half the limit."""
        return start + 1 + bisect_left(range(start + 1, hi + 1), -(-self.limit // 2), key=lambda end: self.cost(start, end))

    def _last(self, sep: str, inside_code: bool, lo: int, hi: int) -> Cut | None:
        """The cut at the last `sep` starting in [lo, hi], inside or outside code as asked, never inside a unit that
        fits, nor after other whitespace (the second line break of a blank line is not a line break of its own)."""
        at = self.text.rfind(sep, lo, hi + len(sep))
        while at >= lo:
            if self.in_code[at] == inside_code and not self.whole[at] and not self._space(at - 1):
                after = at + len(sep)
                return at, after if inside_code else self._skip_space(after)
            at = self.text.rfind(sep, lo, at + len(sep) - 1)
        return None

    def _fallback(self, start: int, end: int, unit: int | None) -> Cut:
        """No separator in the second half: end before the unit that moves on, at the last line break before it
        (its line, a list item's bullet say, goes with it) or else the last space; with no unit, cut the text hard."""
        if unit is not None:
            found = self._separators(start + 1, unit - 1)
            breaks = [cut for cut in found if self.text[cut[0]] == "\n"]
            return max(breaks or found or [(unit, unit)], key=lambda cut: cut[1])
        while end > start + 1 and _joins(self.text[end - 1], self.text[end]):
            end -= 1
        return end, end

    def _separators(self, lo: int, hi: int) -> list[Cut]:
        """The cut at the last separator of each kind that starts in [lo, hi], best kind first."""
        return [cut for sep, code in _PREFERENCES if (cut := self._last(sep, code, lo, hi)) is not None]

    def _skip_space(self, i: int) -> int:
        """Skip the whitespace between parts, but never a code block's indentation nor into a unit."""
        while i < len(self.text) and self._space(i) and self.unit[i] < 0:
            i += 1
        return i

    def _space(self, i: int) -> bool:
        return self.text[i].isspace() and not self.in_code[i]


def _joins(before: str, char: str) -> bool:
    """Whether `char` belongs to the character people see before it: an accent, a skin tone, an emoji sequence."""
    return (unicodedata.category(char) in ("Mn", "Mc", "Me") or char in "\u200d\ufe0e\ufe0f" or before == "\u200d"
            or 0x1F3FB <= ord(char) <= 0x1F3FF or 0xE0020 <= ord(char) <= 0xE007F)
