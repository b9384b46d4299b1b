"""open_storage: which backend each location string opens, and the errors for bad ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from vmvault.storage.base import StorageError
from vmvault.storage.factory import forget_memory_storages, open_storage
from vmvault.storage.local import LocalStorage
from vmvault.storage.memory import MemoryStorage
from vmvault.storage.s3 import S3Storage

S3_ENV = ("VMVAULT_S3_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_REGION")


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in S3_ENV:
        monkeypatch.delenv(name, raising=False)
    forget_memory_storages()
    yield
    forget_memory_storages()


def test_a_path_opens_local_storage(tmp_path: Path) -> None:
    for location in (str(tmp_path / "v"), f"file://{tmp_path / 'v'}"):
        store = open_storage(location)
        assert isinstance(store, LocalStorage)
        assert store.root == tmp_path / "v"


def test_memory_stores_are_shared_by_name() -> None:
    a, again, other = (open_storage(f"memory://{n}") for n in ("a", "a", "b"))
    assert isinstance(a, MemoryStorage) and a is again and a is not other
    a.put("x", b"1")
    assert list(other.list()) == []
    assert a.location == "memory://a"


def test_s3_location_takes_endpoint_and_region_from_options_or_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = open_storage("s3://bucket/some/prefix/", {"endpoint_url": "http://opt:9000"})
    assert isinstance(store, S3Storage)
    assert (store.bucket, store.location) == ("bucket", "s3://bucket/some/prefix")
    assert store.client.meta.endpoint_url == "http://opt:9000"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://aws-env:9000")
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    store = open_storage("s3://bucket")
    assert isinstance(store, S3Storage)
    assert store.client.meta.endpoint_url == "http://aws-env:9000"
    assert store.client.meta.region_name == "eu-west-3"
    monkeypatch.setenv("VMVAULT_S3_ENDPOINT", "http://vmvault-env:9000")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    store = open_storage("s3://bucket")
    assert isinstance(store, S3Storage)
    assert store.client.meta.endpoint_url == "http://vmvault-env:9000"
    assert store.client.meta.region_name == "ap-south-1"


def test_s3_credentials_from_the_standard_aws_variables(
    monkeypatch: pytest.MonkeyPatch, s3_endpoint: str, s3_bucket: str
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-env")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "from-env-secret")
    monkeypatch.setenv("VMVAULT_S3_ENDPOINT", s3_endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    store = open_storage(f"s3://{s3_bucket}/vault")
    assert isinstance(store, S3Storage)
    credentials = store.client._request_signer._credentials  # type: ignore[attr-defined]
    assert credentials.access_key == "from-env"
    store.put("x", b"over http")
    assert store.get("x") == b"over http"


def test_s3_credentials_from_options(s3_endpoint: str, s3_bucket: str) -> None:
    options = {"endpoint_url": s3_endpoint, "region": "us-east-1"}
    options |= {"access_key": "opt-key", "secret_key": "opt-secret"}
    store = open_storage(f"s3://{s3_bucket}", options)
    assert isinstance(store, S3Storage)
    credentials = store.client._request_signer._credentials  # type: ignore[attr-defined]
    assert credentials.access_key == "opt-key"
    store.put("x", b"1")
    assert list(store.list()) == ["x"]


@pytest.mark.parametrize(
    ("location", "options", "says"),
    [
        ("", None, "is empty"),
        ("  ", None, "is empty"),
        ("s3://", None, "no valid bucket name"),
        ("s3:///prefix", None, "no valid bucket name"),
        ("s3://bad bucket/x", None, "no valid bucket name"),
        ("s3://bucket/a/../b", None, "invalid prefix"),
        ("memory://", None, "memory://NAME"),
        ("gs://bucket/x", None, "s3://BUCKET[/PREFIX]"),
        ("file://relative/path", None, "file:///PATH"),
        ("s3://bucket", {"endpoint": "http://x"}, "unknown storage option endpoint"),
    ],
)
def test_bad_locations_are_storage_errors(
    location: str, options: dict[str, str] | None, says: str
) -> None:
    with pytest.raises(StorageError) as info:
        open_storage(location, options)
    message = str(info.value)
    assert says in message and repr(location) in message
    assert "\n" not in message
