"""S3Storage specifics, against the moto server the conftest starts on loopback."""

from __future__ import annotations

import base64
import hashlib
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from botocore.awsrequest import AWSPreparedRequest
from botocore.stub import Stubber

from vmvault.storage.base import ObjectNotFoundError, StorageError
from vmvault.storage.s3 import S3Storage

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MakeS3 = Callable[..., S3Storage]


def test_keys_live_under_the_prefix(make_s3: MakeS3, s3_bucket: str, s3_admin: S3Client) -> None:
    store = make_s3(s3_bucket, "/vaults/lab/")
    assert store.location == f"s3://{s3_bucket}/vaults/lab"
    store.put("chunks/ab/abcd", b"chunk")
    keys = [o["Key"] for o in s3_admin.list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert keys == ["vaults/lab/chunks/ab/abcd"]
    assert make_s3(s3_bucket).location == f"s3://{s3_bucket}"


def test_prefixes_isolate_stores_in_one_bucket(make_s3: MakeS3, s3_bucket: str) -> None:
    one, two = make_s3(s3_bucket, "one"), make_s3(s3_bucket, "two")
    prefix_of_one = make_s3(s3_bucket, "on")  # a string prefix of "one", not its parent
    one.put("meta", b"1")
    two.put("meta", b"2")
    one.put("only-in-one", b"x")
    assert one.get("meta") == b"1" and two.get("meta") == b"2"
    assert sorted(one.list()) == ["meta", "only-in-one"]
    assert list(two.list()) == ["meta"]
    assert list(prefix_of_one.list()) == []
    with pytest.raises(ObjectNotFoundError):
        two.get("only-in-one")
    two.delete("meta")
    assert one.get("meta") == b"1"
    whole = make_s3(s3_bucket)
    assert sorted(whole.list()) == ["one/meta", "one/only-in-one"]


def test_folder_markers_are_not_objects(
    make_s3: MakeS3, s3_bucket: str, s3_admin: S3Client
) -> None:
    s3_admin.put_object(Bucket=s3_bucket, Key="v/chunks/", Body=b"")
    store = make_s3(s3_bucket, "v")
    store.put("chunks/ab", b"1")
    assert list(store.list()) == ["chunks/ab"]


def test_missing_bucket_is_a_storage_error_naming_it(make_s3: MakeS3, s3_endpoint: str) -> None:
    store = make_s3("no-such-bucket-here", "p")
    for call in (lambda: store.put("x", b"1"), lambda: list(store.list()), lambda: store.get("x")):
        with pytest.raises(StorageError) as info:
            call()
        assert not isinstance(info.value, ObjectNotFoundError)
        assert "'no-such-bucket-here' does not exist" in str(info.value)
        assert s3_endpoint in str(info.value)
    with pytest.raises(ObjectNotFoundError, match="no-such-bucket-here"):
        store.stat("x")  # HEAD cannot tell a missing bucket from a missing key


def test_not_found_names_the_key(make_s3: MakeS3, s3_bucket: str) -> None:
    store = make_s3(s3_bucket, "p")
    with pytest.raises(ObjectNotFoundError, match=f"s3://{s3_bucket}/p/missing/key"):
        store.get("missing/key")


def test_server_down_fails_fast_with_a_storage_error() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = S3Storage(
        "vault-bucket",
        endpoint_url=f"http://127.0.0.1:{port}",
        region="us-east-1",
        access_key="k",
        secret_key="s",
        max_attempts=2,
        connect_timeout=0.5,
        read_timeout=0.5,
    )
    started = time.monotonic()
    for call in (lambda: store.put("x", b"1"), lambda: store.get("x"), lambda: list(store.list())):
        with pytest.raises(StorageError) as info:
            call()
        assert "vault-bucket" in str(info.value)
        assert "Could not connect" in str(info.value)
    assert time.monotonic() - started < 15


def test_a_given_client_is_used(s3_admin: S3Client, s3_bucket: str) -> None:
    store = S3Storage(s3_bucket, "c", client=s3_admin)
    store.put("x", b"through the given client")
    assert s3_admin.get_object(Bucket=s3_bucket, Key="c/x")["Body"].read() == (
        b"through the given client"
    )


def test_other_s3_errors_carry_the_code(make_s3: MakeS3, s3_bucket: str) -> None:
    store = make_s3(s3_bucket, "p")
    with Stubber(store.client) as stub:  # S3 refusing a write, as a locked-down bucket would
        stub.add_client_error("put_object", "AccessDenied", "Access Denied", 403)
        with pytest.raises(StorageError) as info:
            store.put("x", b"1")
    assert str(info.value) == (
        f"cannot write s3://{s3_bucket}/p/x: S3 error AccessDenied: Access Denied"
    )


def test_puts_carry_content_md5_and_no_streaming_checksum(make_s3: MakeS3, s3_bucket: str) -> None:
    store = make_s3(s3_bucket)
    headers: list[dict[str, str]] = []

    def capture(request: AWSPreparedRequest, **kwargs: object) -> None:
        items = request.headers.items()
        headers.append({k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in items})

    store.client.meta.events.register("before-send.s3.PutObject", capture)
    store.put("x", b"payload")
    sent = headers[0]
    assert sent["content-md5"] == base64.b64encode(hashlib.md5(b"payload").digest()).decode()
    assert "x-amz-trailer" not in sent  # servers other than AWS often refuse aws-chunked bodies
    assert store.get("x") == b"payload"
