"""The contracts of ``vmvault.storage.base.Storage``, checked against every backend.

The ``storage`` fixture (conftest.py) runs each test on local, memory, S3 (moto over HTTP) and
a rule-less FaultyStorage over local.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from vmvault.clock import FakeClock
from vmvault.storage.base import ObjectNotFoundError, Storage, StorageError
from vmvault.storage.memory import MemoryStorage

MiB = 1024 * 1024
INVALID_NAMES = ["", "/abs", "a//b", "a/", "./a", "a/./b", "../a", "a/..", "a\nb", "a\x00b"]


def _payload(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


@pytest.mark.parametrize("size", [0, 1, 5 * MiB], ids=["empty", "1-byte", "5MiB"])
def test_put_get_round_trip(storage: Storage, size: int) -> None:
    data = _payload(size)
    storage.put("chunks/ab/abcdef", data)
    assert storage.get("chunks/ab/abcdef") == data
    assert storage.stat("chunks/ab/abcdef").size == size


def test_put_overwrites(storage: Storage) -> None:
    storage.put("points/rp-1.json", b"first version, longer")
    storage.put("points/rp-1.json", b"second")
    assert storage.get("points/rp-1.json") == b"second"
    assert storage.stat("points/rp-1.json").size == len(b"second")
    assert list(storage.list()) == ["points/rp-1.json"]


def test_missing_object_raises_not_found(storage: Storage) -> None:
    storage.put("present", b"x")
    with pytest.raises(ObjectNotFoundError):
        storage.get("absent")
    with pytest.raises(ObjectNotFoundError):
        storage.get_range("absent", 0, 10)
    with pytest.raises(ObjectNotFoundError):
        storage.get_range("absent", 0, 0)
    with pytest.raises(ObjectNotFoundError):
        storage.stat("absent/deeper")
    with pytest.raises(ObjectNotFoundError) as info:
        storage.get("present/child")
    assert isinstance(info.value, StorageError)
    assert "present/child" in str(info.value)


def test_get_range(storage: Storage) -> None:
    data = bytes(range(256)) * 4  # 1024 bytes
    storage.put("disk/lun0", data)
    assert storage.get_range("disk/lun0", 0, 10) == data[:10]
    assert storage.get_range("disk/lun0", 500, 100) == data[500:600]
    assert storage.get_range("disk/lun0", 1000, 100) == data[1000:]  # fewer bytes at the end
    assert storage.get_range("disk/lun0", 1024, 10) == b""
    assert storage.get_range("disk/lun0", 5000, 10) == b""
    assert storage.get_range("disk/lun0", 3, 0) == b""
    assert storage.get_range("disk/lun0", 0, 4096) == data


def test_get_range_of_empty_object(storage: Storage) -> None:
    storage.put("empty", b"")
    assert storage.get_range("empty", 0, 10) == b""


@pytest.mark.parametrize(("offset", "length"), [(-1, 10), (0, -1)])
def test_get_range_rejects_negative_values(storage: Storage, offset: int, length: int) -> None:
    storage.put("x", b"data")
    with pytest.raises(ValueError):
        storage.get_range("x", offset, length)


def test_list(storage: Storage) -> None:
    names = {"chunks/ab/ab01", "chunks/ab/ab02", "chunks/cd/cd01", "chunksmith", "points/vm/rp"}
    for name in names:
        storage.put(name, name.encode())
    assert set(storage.list()) == names
    assert sorted(storage.list()) == sorted(set(storage.list()))  # each name once
    assert set(storage.list("chunks/")) == {"chunks/ab/ab01", "chunks/ab/ab02", "chunks/cd/cd01"}
    assert set(storage.list("chunks")) == names - {"points/vm/rp"}
    assert set(storage.list("chunks/a")) == {"chunks/ab/ab01", "chunks/ab/ab02"}
    assert set(storage.list("chunks/ab/ab01")) == {"chunks/ab/ab01"}
    assert set(storage.list("points/vm/")) == {"points/vm/rp"}
    assert list(storage.list("nothing/")) == []
    assert list(storage.list("chunks/zz")) == []


def test_list_of_empty_store(storage: Storage) -> None:
    assert list(storage.list()) == []
    assert list(storage.list("a/")) == []


def test_list_excludes_deleted_and_shows_only_finished_objects(storage: Storage) -> None:
    for i in range(20):
        storage.put(f"d/{i:02d}", _payload(1000, i))
    storage.delete("d/05")
    assert sorted(storage.list("d/")) == [f"d/{i:02d}" for i in range(20) if i != 5]


def test_stat(storage: Storage) -> None:
    """``modified`` is an aware UTC time that the storage stamps when the object is written.

    It is read against the storage's own clock (objects written just before and after), not
    the test's: a folder's times come from the kernel, S3's from its server, and garbage
    collection compares them with vmvault's clock only across hours (``MIN_AGE_FOR_GC``)."""
    storage.put("probe/before", b"")
    before = storage.stat("probe/before").modified
    storage.put("meta/vault.json", b"{}")
    info = storage.stat("meta/vault.json")
    storage.put("probe/after", b"")
    after = storage.stat("probe/after").modified
    assert info.name == "meta/vault.json"
    assert info.size == 2
    assert info.modified.tzinfo is not None
    assert info.modified.utcoffset() == timedelta(0)
    # S3 keeps whole seconds; allow for that.
    assert before - timedelta(seconds=1) <= info.modified <= after + timedelta(seconds=1)
    assert after - before < timedelta(minutes=1)


def test_memory_storage_stamps_writes_with_the_clock_it_is_given() -> None:
    clock = FakeClock(datetime(2030, 1, 1, tzinfo=UTC))
    storage = MemoryStorage(now=clock.now)
    storage.put("a", b"1")
    clock.advance(timedelta(hours=7))
    storage.put("b", b"2")
    assert storage.stat("a").modified == datetime(2030, 1, 1, tzinfo=UTC)
    assert storage.stat("b").modified == datetime(2030, 1, 1, 7, tzinfo=UTC)


def test_delete_is_idempotent(storage: Storage) -> None:
    storage.put("a/b", b"1")
    storage.put("a/c", b"2")
    storage.delete("a/b")
    storage.delete("a/b")
    storage.delete("never/was")
    with pytest.raises(ObjectNotFoundError):
        storage.get("a/b")
    assert list(storage.list()) == ["a/c"]
    storage.put("a/b", b"again")
    assert storage.get("a/b") == b"again"


def test_deeply_nested_names(storage: Storage) -> None:
    deep = "/".join(f"level{i}" for i in range(12)) + "/leaf.bin"
    storage.put(deep, b"deep")
    storage.put("level0/sibling", b"near")
    assert storage.get(deep) == b"deep"
    assert set(storage.list("level0/level1/")) == {deep}
    assert set(storage.list()) == {deep, "level0/sibling"}


def test_names_with_odd_characters(storage: Storage) -> None:
    names = ["vm name with spaces/rp 1", "ümlaut/ß", "dots/a.b.c", "dash-and_underscore/x=y+z"]
    for name in names:
        storage.put(name, name.encode())
    assert set(storage.list()) == set(names)
    for name in names:
        assert storage.get(name) == name.encode()


def test_invalid_names_are_rejected(storage: Storage) -> None:
    calls: dict[str, Callable[[str], object]] = {
        "put": lambda name: storage.put(name, b"x"),
        "get": storage.get,
        "get_range": lambda name: storage.get_range(name, 0, 1),
        "stat": storage.stat,
        "delete": storage.delete,
    }
    for name in INVALID_NAMES:  # one loop, not parameters: each S3 case costs a client
        for op, call in calls.items():
            with pytest.raises(ValueError):
                call(name)
                pytest.fail(f"{op}({name!r}) was accepted")
    assert list(storage.list()) == []


def test_concurrent_puts_and_gets_of_distinct_names(storage: Storage) -> None:
    def work(worker: int) -> None:
        for i in range(6):
            name = f"w{worker}/obj{i}"
            data = _payload(20_000 + i, seed=worker * 100 + i)
            storage.put(name, data)
            assert storage.get(name) == data

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, range(8)))
    assert len(set(storage.list())) == 48


def test_concurrent_writers_of_one_name_never_expose_a_partial_object(storage: Storage) -> None:
    # Each writer's payload is one repeated byte of its own length, so any mix is detectable.
    payloads = {bytes([w]) * (64 * 1024 + w * 4096) for w in range(1, 9)}
    storage.put("shared", b"\x00" * 1000)
    payloads.add(b"\x00" * 1000)
    stop = threading.Event()
    seen: list[bytes] = []

    def reader() -> None:
        while not stop.is_set():
            seen.append(storage.get("shared"))

    def writer(worker: int) -> None:
        for _ in range(4):
            storage.put("shared", bytes([worker]) * (64 * 1024 + worker * 4096))

    readers = [threading.Thread(target=reader) for _ in range(2)]
    for t in readers:
        t.start()
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(writer, range(1, 9)))
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert seen, "the readers never ran"
    assert all(data in payloads for data in seen)
    assert storage.get("shared") in payloads
    assert list(storage.list()) == ["shared"]
    # Once the writers are done, the last put wins.
    storage.put("shared", b"final")
    assert storage.get("shared") == b"final"
