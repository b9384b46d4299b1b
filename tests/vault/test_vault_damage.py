"""Issue 9 §1 at the vault layer: a chunk found damaged is never trusted again by
deduplication, points the catalog lists are checked against the vault, check and gc say
so, and an encrypted vault's config is bound to its key."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from vault_helpers import CHUNK, MiB, mixed_data, sha256_file, write_image

from vmvault.storage.local import LocalStorage
from vmvault.vault import format as fmt
from vmvault.vault.backup import DiskSource, backup_point
from vmvault.vault.check import check_vault
from vmvault.vault.errors import CatalogMismatchError, ConfigTamperedError, CorruptObjectError
from vmvault.vault.gc import collect_garbage
from vmvault.vault.manifest import PointManifest
from vmvault.vault.readers import open_disk
from vmvault.vault.repair import chunk_sites, repair_chunk
from vmvault.vault.repository import PointRef, Vault
from vmvault.vault.restore import restore_disk
from vmvault.vault.verify import differing_chunks, ids_digest, image_chunk_ids

NOW = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


def _vault(tmp_path: Path, passphrase: str | None) -> tuple[LocalStorage, Vault]:
    storage = LocalStorage(tmp_path / "vault")
    Vault.create(storage, NOW, passphrase=passphrase, chunk_size=CHUNK)
    return storage, Vault.open(storage, passphrase)


def _image(tmp_path: Path) -> Path:
    return write_image(
        tmp_path / "a.raw", 4 * MiB, {0: mixed_data(3 * CHUNK, 7), 2 * MiB: b"y" * CHUNK}
    )


def _backup(
    vault: Vault, point: str, image: Path, previous: PointManifest | None = None
) -> PointManifest:
    with open_disk(image) as reader:
        return backup_point(
            vault, "web01", point, NOW, [DiskSource(-1, "os", reader)], previous=previous
        )


def _flip(tmp_path: Path, name: str) -> bytes:
    path = tmp_path / "vault" / name
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0x01
    path.write_bytes(bytes(blob))
    return bytes.fromhex(name.rsplit("/", 1)[1])


def _first_chunk(vault: Vault, manifest: PointManifest) -> str:
    index = vault.read_index(manifest, -1)
    return fmt.chunk_name(index.ids[0])


@pytest.mark.parametrize("passphrase", [None, "pw"], ids=["plain", "encrypted"])
def test_backup_after_bit_rot_found_by_check_stores_a_good_copy(
    tmp_path: Path, passphrase: str | None
) -> None:
    _, vault = _vault(tmp_path, passphrase)
    image = _image(tmp_path)
    rp1 = _backup(vault, "rp1", image)
    cid = _flip(tmp_path, _first_chunk(vault, rp1))
    report = check_vault(vault, read_data=True)
    assert [p.kind for p in report.problems] == ["corrupt-chunk"]
    assert vault.damaged_chunks() == {cid}
    # without reading data, the recorded damage is still reported with the points it breaks
    (problem,) = check_vault(vault).problems
    assert problem.kind == "damaged-chunk" and problem.breaks == ("web01/rp1 disk -1 (os)",)

    rp2 = _backup(vault, "rp2", image, previous=rp1)  # incremental: would reuse the id
    assert rp2.disks[0].new_chunks == 1
    restore_disk(vault, rp2, -1, tmp_path / "rp2.raw")
    assert sha256_file(tmp_path / "rp2.raw") == sha256_file(image)
    restore_disk(vault, rp1, -1, tmp_path / "rp1.raw")  # the same chunk: rp1 healed too
    assert sha256_file(tmp_path / "rp1.raw") == sha256_file(image)
    assert vault.damaged_chunks() == set()
    assert check_vault(vault, read_data=True).ok


def test_a_restore_that_hits_a_damaged_chunk_records_it(tmp_path: Path) -> None:
    _, vault = _vault(tmp_path, None)
    image = _image(tmp_path)
    rp1 = _backup(vault, "rp1", image)
    cid = _flip(tmp_path, _first_chunk(vault, rp1))
    with pytest.raises(CorruptObjectError):
        restore_disk(vault, rp1, -1, tmp_path / "out.raw")
    assert vault.damaged_chunks() == {cid}
    assert not (tmp_path / "out.raw").exists()
    _backup(vault, "rp2", image, previous=rp1)
    assert check_vault(vault, read_data=True).ok


def test_repair_rewrites_a_damaged_chunk_from_a_disk_that_holds_it(tmp_path: Path) -> None:
    _, vault = _vault(tmp_path, "pw")
    image = _image(tmp_path)
    rp1 = _backup(vault, "rp1", image)
    cid = _flip(tmp_path, _first_chunk(vault, rp1))
    check_vault(vault, read_data=True)
    (site,) = chunk_sites(vault, {cid})[cid]
    assert site.ref == PointRef("web01", "rp1") and site.offset == 0
    other = write_image(tmp_path / "other.raw", 4 * MiB, {0: b"z" * CHUNK})
    with open_disk(other) as reader:
        assert not repair_chunk(vault, cid, reader, site)  # wrong bytes are never stored
    with open_disk(image) as reader:
        assert repair_chunk(vault, cid, reader, site)
    assert vault.damaged_chunks() == set()
    assert check_vault(vault, read_data=True).ok


def test_check_and_gc_compare_the_points_the_catalog_lists(tmp_path: Path) -> None:
    storage, vault = _vault(tmp_path, None)
    image = _image(tmp_path)
    _backup(vault, "rp1", image)
    expected = {PointRef("web01", "rp1")}
    assert check_vault(vault, expected=expected).ok
    storage.delete(fmt.manifest_name("web01", "rp1"))
    (problem,) = check_vault(vault, expected=expected).problems
    assert problem.kind == "missing-point" and "web01/rp1" in problem.message
    chunks = sorted(vault.chunk_names())
    later = NOW + timedelta(days=30)
    with pytest.raises(CatalogMismatchError, match=r"nothing was deleted.*web01/rp1"):
        collect_garbage(vault, later, expected=expected)
    assert sorted(vault.chunk_names()) == chunks
    (extra,) = check_vault(vault, expected=expected | {PointRef("web01", "rp0")}).problems[1:]
    assert extra.kind == "missing-point" and "rp1" in extra.message


def test_a_deleted_index_names_its_point(tmp_path: Path) -> None:
    storage, vault = _vault(tmp_path, None)
    _backup(vault, "rp1", _image(tmp_path))
    storage.delete(fmt.index_name("web01", "rp1", -1))
    (problem,) = check_vault(vault, expected={PointRef("web01", "rp1")}).problems
    assert problem.kind == "index" and problem.breaks[0].startswith("web01/rp1 ")


def test_an_edited_config_of_an_encrypted_vault_is_refused(tmp_path: Path) -> None:
    storage, _ = _vault(tmp_path, "pw")
    original = storage.get(fmt.CONFIG)
    config = json.loads(original)
    config["chunk_size"] = CHUNK * 2
    storage.put(fmt.CONFIG, json.dumps(config, indent=2).encode() + b"\n")
    with pytest.raises(ConfigTamperedError, match=r"config of the vault .* was changed"):
        Vault.open(storage, "pw")
    storage.put(fmt.CONFIG, original)
    assert Vault.open(storage, "pw").config.chunk_size == CHUNK


def test_a_vault_from_before_config_macs_gets_one_at_first_open(tmp_path: Path) -> None:
    storage, _ = _vault(tmp_path, "pw")
    storage.delete(fmt.CONFIG_MAC)
    Vault.open(storage, "pw")
    storage.stat(fmt.CONFIG_MAC)
    config = json.loads(storage.get(fmt.CONFIG))
    config["created"] = "2020-01-01T00:00:00Z"
    storage.put(fmt.CONFIG, json.dumps(config).encode())
    with pytest.raises(ConfigTamperedError):
        Vault.open(storage, "pw")


@pytest.mark.parametrize("passphrase", [None, "pw"], ids=["plain", "encrypted"])
def test_image_chunk_ids_match_the_index_and_find_a_flipped_byte(
    tmp_path: Path, passphrase: str | None
) -> None:
    _, vault = _vault(tmp_path, passphrase)
    image = _image(tmp_path)
    index = vault.read_index(_backup(vault, "rp1", image), -1)
    with open_disk(image) as reader:
        ids = image_chunk_ids(vault, reader)
    assert ids == index.ids and ids_digest(ids) == ids_digest(index.ids)
    with open(image, "r+b") as f:
        f.seek(2 * MiB + 5)
        f.write(b"Y")
    with open_disk(image) as reader:
        assert differing_chunks(image_chunk_ids(vault, reader), index.ids) == [2 * MiB // CHUNK]


def test_a_damaged_chunk_the_hints_would_leave_unread_is_read_and_stored_again(
    tmp_path: Path,
) -> None:
    _, vault = _vault(tmp_path, None)
    image = _image(tmp_path)
    rp1 = _backup(vault, "rp1", image)
    cid = _flip(tmp_path, _first_chunk(vault, rp1))
    check_vault(vault, read_data=True)
    with open_disk(image) as reader:  # hints say nothing changed since rp1
        disk = DiskSource(-1, "os", reader, changed=[])
        rp2 = backup_point(vault, "web01", "rp2", NOW, [disk], previous=rp1)
    assert rp2.disks[0].new_chunks == 1 and vault.damaged_chunks() == set()
    assert vault.get_chunk(cid)
    restore_disk(vault, rp2, -1, tmp_path / "rp2.raw")
    assert sha256_file(tmp_path / "rp2.raw") == sha256_file(image)
