"""Objects in an S3 bucket, on AWS or any S3-compatible server (MinIO, Ceph RGW, moto).

Object ``name`` is stored under key ``<prefix>/<name>``. A single PUT is atomic in S3 (a reader
sees the old object or the new one, never a mix) and durable once acknowledged, so ``put`` needs
no temporary object. Each PUT carries Content-MD5, so the server rejects bytes damaged in transit.

Credentials not given explicitly come from boto3's default chain (``AWS_ACCESS_KEY_ID``/
``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, instance roles...). With an ``endpoint_url`` the
client uses path-style addressing (``http://host/bucket/key``), which every S3-compatible server
accepts without wildcard DNS. Checksums beyond Content-MD5 are sent only when an operation
requires them: recent botocore's default streaming CRC trailers are refused by many non-AWS
servers.

``stat`` cannot tell a missing bucket from a missing key (HEAD returns a bare 404); it raises
ObjectNotFoundError whose message names both. Every other call reports a missing bucket as a
StorageError naming it.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from datetime import UTC
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from vmvault.storage.base import ObjectInfo, ObjectNotFoundError, StorageError, check_name

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
# A range that starts at or past the end of the object (or any range of an empty object).
_RANGE_PAST_END = {"InvalidRange", "416"}


class S3Storage:
    """A ``Storage`` in ``bucket`` under ``prefix``; safe to share between threads.

    ``client`` replaces the boto3 client this class would build (the other connection arguments
    are then ignored). Retries: botocore's "standard" mode, ``max_attempts`` tries in all.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        client: S3Client | None = None,
        *,
        session_token: str | None = None,
        max_attempts: int = 5,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
    ) -> None:
        self.bucket = bucket
        self._prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.location = f"s3://{bucket}/{self._prefix}".rstrip("/")
        self.endpoint_url = endpoint_url
        if client is None:
            config = Config(
                retries={"max_attempts": max_attempts, "mode": "standard"},
                max_pool_connections=32,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                s3={"addressing_style": "path" if endpoint_url else "auto"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            )
            # A session per store: boto3's default session is shared global state, and
            # sessions are not thread-safe (the client built from one is).
            client = boto3.session.Session().client(
                "s3",
                endpoint_url=endpoint_url,
                region_name=region,
                aws_access_key_id=access_key,
                aws_secret_access_key=secret_key,
                aws_session_token=session_token,
                config=config,
            )
        self.client = client

    def put(self, name: str, data: bytes) -> None:
        key = self._key(name)
        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentMD5=md5)
        except (ClientError, BotoCoreError) as exc:
            raise self._error("write", key, exc) from exc

    def get(self, name: str) -> bytes:
        key = self._key(name)
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
            return response["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            raise self._error("read", key, exc) from exc

    def get_range(self, name: str, offset: int, length: int) -> bytes:
        key = self._key(name)
        if offset < 0 or length < 0:
            raise ValueError(f"invalid range offset={offset} length={length}: both must be >= 0")
        if length == 0:
            self.stat(name)  # an empty range has no Range header; still report a missing object
            return b""
        try:
            response = self.client.get_object(
                Bucket=self.bucket, Key=key, Range=f"bytes={offset}-{offset + length - 1}"
            )
            return response["Body"].read()
        except ClientError as exc:
            if _code(exc) in _RANGE_PAST_END:
                return b""
            raise self._error("read", key, exc) from exc
        except BotoCoreError as exc:
            raise self._error("read", key, exc) from exc

    def list(self, prefix: str = "") -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        start = len(self._prefix)
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._prefix + prefix):
                for entry in page.get("Contents", []):
                    key = entry.get("Key", "")
                    if not key.endswith("/"):  # skip "folder" markers other tools create
                        yield key[start:]
        except (ClientError, BotoCoreError) as exc:
            raise self._error("list", self._prefix + prefix, exc) from exc

    def stat(self, name: str) -> ObjectInfo:
        key = self._key(name)
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise self._error("stat", key, exc) from exc
        modified = head["LastModified"].astimezone(UTC)
        return ObjectInfo(name=name, size=head["ContentLength"], modified=modified)

    def delete(self, name: str) -> None:
        key = self._key(name)
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)  # S3: 204 even when missing
        except (ClientError, BotoCoreError) as exc:
            if _code(exc) not in _NOT_FOUND:
                raise self._error("delete", key, exc) from exc

    def _key(self, name: str) -> str:
        return self._prefix + check_name(name)

    def _error(self, op: str, key: str, exc: ClientError | BotoCoreError) -> StorageError:
        where = f"s3://{self.bucket}/{key}"
        code = _code(exc)
        if code in _NOT_FOUND:
            # A HEAD answers a bare 404 for a missing bucket too.
            maybe = f" (or bucket {self.bucket!r} is missing)" if code == "404" else ""
            return ObjectNotFoundError(f"object {where} not found{maybe}")
        if code == "NoSuchBucket":
            return StorageError(
                f"cannot {op} {where}: bucket {self.bucket!r} does not exist"
                f"{f' at {self.endpoint_url}' if self.endpoint_url else ''}; create it or fix "
                "the vault's storage location"
            )
        if isinstance(exc, ClientError):
            message = exc.response.get("Error", {}).get("Message", "")
            return StorageError(f"cannot {op} {where}: S3 error {code}: {message}".rstrip(": "))
        return StorageError(f"cannot {op} {where}: {exc}")


def _code(exc: ClientError | BotoCoreError) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""
