"""FaultyStorage: each kind of injected fault, and its call counts."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from vmvault.storage.base import ObjectNotFoundError, StorageError
from vmvault.storage.faulty import FaultyStorage
from vmvault.storage.memory import MemoryStorage


@pytest.fixture
def inner() -> MemoryStorage:
    return MemoryStorage("memory://faulty-test")


@pytest.fixture
def store(inner: MemoryStorage) -> FaultyStorage:
    return FaultyStorage(inner)


def test_fails_puts_after_n_successes(store: FaultyStorage, inner: MemoryStorage) -> None:
    store.fail_puts(after=2)
    store.put("a", b"1")
    store.put("b", b"2")
    for name in ("c", "d"):
        with pytest.raises(StorageError, match=f"'{name}'.*injected fault"):
            store.put(name, b"3")
    assert sorted(inner.list()) == ["a", "b"]  # a failed put writes nothing


def test_fails_exactly_the_nth_put(store: FaultyStorage) -> None:
    store.fail_puts(after=2, times=1)
    store.put("1", b"")
    store.put("2", b"")
    with pytest.raises(StorageError):
        store.put("3", b"")
    store.put("3", b"retry works")
    assert store.get("3") == b"retry works"


def test_fails_only_matching_names(store: FaultyStorage) -> None:
    store.fail_puts(after=1, matching="chunks/")
    store.put("chunks/aa", b"first chunk passes")
    store.put("points/rp", b"not a chunk")
    store.put("points/rp2", b"not a chunk")
    with pytest.raises(StorageError):
        store.put("chunks/bb", b"second chunk fails")
    assert sorted(store.list()) == ["chunks/aa", "points/rp", "points/rp2"]


def test_fails_names_chosen_by_a_predicate(store: FaultyStorage) -> None:
    store.fail_puts(matching=lambda name: name.endswith(".json"))
    store.put("data.bin", b"ok")
    with pytest.raises(StorageError):
        store.put("meta.json", b"{}")


def test_failed_overwrite_keeps_the_old_bytes(store: FaultyStorage) -> None:
    store.put("manifest", b"old")
    store.fail_puts()
    with pytest.raises(StorageError):
        store.put("manifest", b"new")
    assert store.get("manifest") == b"old"


def test_disk_full(store: FaultyStorage) -> None:
    store.disk_full(after=1)
    store.put("a", b"fits")
    with pytest.raises(StorageError, match="disk full") as info:
        store.put("b", b"does not fit")
    assert "'b'" in str(info.value) and "memory://faulty-test" in str(info.value)
    with pytest.raises(ObjectNotFoundError):
        store.get("b")


def test_raises_an_arbitrary_exception(store: FaultyStorage) -> None:
    store.fail_puts(matching="x", error=RuntimeError("boom"))
    store.fail("get", error=lambda name: ConnectionResetError(f"reset reading {name}"))
    with pytest.raises(RuntimeError, match="boom"):
        store.put("x1", b"")
    with pytest.raises(RuntimeError, match="boom"):
        store.put("x2", b"")
    with pytest.raises(ConnectionResetError, match="reset reading y"):
        store.get("y")


def test_lost_acknowledgement_writes_then_fails(store: FaultyStorage) -> None:
    store.fail("put", after_write=True, times=1)
    with pytest.raises(StorageError):
        store.put("landed", b"bytes")
    assert store.get("landed") == b"bytes"


@pytest.mark.parametrize("op", ["get", "get_range", "stat", "delete", "list"])
def test_fails_other_operations(store: FaultyStorage, op: str) -> None:
    store.put("obj", b"data")
    store.fail(op, matching="obj")  # type: ignore[arg-type]
    calls: dict[str, Callable[[], object]] = {
        "get": lambda: store.get("obj"),
        "get_range": lambda: store.get_range("obj", 0, 2),
        "stat": lambda: store.stat("obj"),
        "delete": lambda: store.delete("obj"),
        "list": lambda: list(store.list("obj")),
    }
    with pytest.raises(StorageError):
        calls[op]()
    store.clear()
    calls[op]()


def test_corrupts_data_read_back(store: FaultyStorage, inner: MemoryStorage) -> None:
    data = bytes(range(100))
    store.put("chunks/ab", data)
    store.put("chunks/cd", data)
    store.corrupt_gets(matching="chunks/ab", position=10)
    got = store.get("chunks/ab")
    assert len(got) == len(data)
    assert [i for i in range(100) if got[i] != data[i]] == [10]
    assert got[10] == data[10] ^ 0xFF
    ranged = store.get_range("chunks/ab", 50, 20)
    assert ranged != data[50:70] and len(ranged) == 20
    assert store.get("chunks/cd") == data  # other names read back intact
    assert inner.get("chunks/ab") == data  # the stored object is untouched
    assert store.get_range("chunks/ab", 200, 5) == b""  # nothing to corrupt


def test_clear_removes_every_rule(store: FaultyStorage) -> None:
    store.fail_puts()
    store.corrupt_gets()
    store.clear()
    store.put("a", b"abc")
    assert store.get("a") == b"abc"


def test_counts_calls_per_operation(store: FaultyStorage) -> None:
    store.fail_puts(after=1)
    store.put("a", b"1")
    with pytest.raises(StorageError):
        store.put("b", b"2")
    store.get("a")
    store.get_range("a", 0, 1)
    list(store.list())
    store.stat("a")
    store.delete("a")
    store.delete("a")
    assert store.calls == {
        "put": 2, "get": 1, "get_range": 1, "list": 1, "stat": 1, "delete": 2,
    }  # fmt: skip


def test_rules_are_thread_safe(store: FaultyStorage) -> None:
    store.fail_puts(after=50)
    failures: list[Exception] = []
    lock = threading.Lock()

    def work(worker: int) -> None:
        for i in range(25):
            try:
                store.put(f"w{worker}/{i}", b"x")
            except StorageError as exc:
                with lock:
                    failures.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.calls["put"] == 200
    assert len(failures) == 150
    assert len(list(store.list())) == 50


def test_rejects_bad_rules_and_names(store: FaultyStorage) -> None:
    with pytest.raises(ValueError, match="unknown storage operation"):
        store.fail("rename")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="put"):
        store.fail("get", after_write=True)
    store.fail_puts()
    with pytest.raises(ValueError):  # an invalid name is a ValueError before any fault
        store.put("../escape", b"")
    assert store.location == "memory://faulty-test"
