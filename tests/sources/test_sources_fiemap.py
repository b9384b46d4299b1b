"""Changed extents from two block maps (the pure part of reflink-derived hints)."""

from __future__ import annotations

import pytest

from vmvault.sources.fiemap import Mapped, changed_between
from vmvault.vault.disks import Extent

K = 4096


def test_identical_maps_change_nothing_however_they_are_split() -> None:
    previous = [Mapped(0, 100 * K, 64 * K)]
    current = [Mapped(0, 100 * K, 16 * K), Mapped(16 * K, 116 * K, 48 * K)]
    assert changed_between(previous, current) == []


def test_a_rewritten_range_is_changed_the_rest_is_not() -> None:
    previous = [Mapped(0, 100 * K, 64 * K)]
    current = [
        Mapped(0, 100 * K, 8 * K),
        Mapped(8 * K, 900 * K, 4 * K),  # copy on write: new blocks
        Mapped(12 * K, 112 * K, 52 * K),
    ]
    assert changed_between(previous, current) == [Extent(8 * K, 4 * K)]


def test_holes_on_either_side_are_changed_holes_on_both_are_not() -> None:
    previous = [Mapped(0, 100 * K, 8 * K), Mapped(32 * K, 500 * K, 8 * K)]
    current = [Mapped(0, 100 * K, 8 * K), Mapped(16 * K, 700 * K, 8 * K)]
    # 16-24K: data only now; 32-40K: data only before (now a hole, reads as zeros)
    assert changed_between(previous, current) == [Extent(16 * K, 8 * K), Extent(32 * K, 8 * K)]


def test_same_physical_at_another_offset_is_a_change() -> None:
    previous = [Mapped(0, 100 * K, 8 * K)]
    current = [Mapped(8 * K, 100 * K, 8 * K)]
    assert changed_between(previous, current) == [Extent(0, 16 * K)]


def test_extents_the_filesystem_does_not_map_plainly_count_as_changed() -> None:
    # delalloc, unwritten, inline, encoded, unknown, and a flag no kernel has yet
    for flags in (0x4, 0x800, 0x200, 0x8, 0x2, 0x4000):
        previous = [Mapped(0, 100 * K, 8 * K, flags)]
        current = [Mapped(0, 100 * K, 8 * K)]
        assert changed_between(previous, current) == [Extent(0, 8 * K)], flags
        assert changed_between(current, previous) == [Extent(0, 8 * K)], flags
    assert changed_between([Mapped(0, 0, K)], [Mapped(0, 0, K)]) == [Extent(0, K)]  # no address


def test_shared_and_merged_extents_are_plain() -> None:
    previous = [Mapped(0, 100 * K, 8 * K, 0x2000 | 0x1)]  # shared, last
    current = [Mapped(0, 100 * K, 8 * K, 0x1000 | 0x2000)]  # merged, shared
    assert changed_between(previous, current) == []


def test_a_map_with_overlapping_extents_is_refused() -> None:
    plain = Mapped(0, 100 * K, 12 * K)
    with pytest.raises(ValueError, match="overlapping"):
        changed_between([plain, Mapped(4 * K, 0, 4 * K, 0x800)], [plain])
