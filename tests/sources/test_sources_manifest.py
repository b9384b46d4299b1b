"""VM manifests: valid documents (YAML and JSON), each kind of error with its field path, and
the write/read round trip that restore-as-new-VM relies on."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from sources_helpers import EXAMPLE, MiB, write_image

from vmvault.domain.errors import ConflictError, InvalidInputError
from vmvault.sources import DiskType, ManifestError, VmSpec, load_manifest, write_manifest
from vmvault.sources.model import ManifestProblem

OS_DISK = "  - {lun: -1, name: os, path: os.raw, type: standard_hdd}\n"
DATA_DISK = "  - {lun: 0, name: d0, path: d0.raw, type: premium_ssd}\n"
VALID = "name: vm1\ndisks:\n" + OS_DISK + DATA_DISK


def _load(
    tmp_path: Path, text: str, filename: str = "vm1.vm.yaml", *, check_files: bool = False
) -> VmSpec:
    path = tmp_path / filename
    path.write_text(text)
    return load_manifest(path, "lab", check_files=check_files)


def _problems(tmp_path: Path, text: str, filename: str = "vm1.vm.yaml") -> list[ManifestProblem]:
    with pytest.raises(ManifestError) as info:
        _load(tmp_path, text, filename)
    assert info.value.code == "UserErrorInvalidVmManifest"
    assert isinstance(info.value, InvalidInputError)
    assert all(p.file == tmp_path / filename for p in info.value.problems)
    return list(info.value.problems)


def test_the_issue_example_parses_with_absolute_paths(tmp_path: Path) -> None:
    write_image(tmp_path / "web01-os.raw", MiB, {})
    write_image(tmp_path / "web01-data0.qcow2", MiB, {})
    vm = _load(tmp_path, EXAMPLE, "web01.vm.yaml", check_files=True)
    assert vm == load_manifest(tmp_path / "web01.vm.yaml", "lab")
    assert vm.id == "lab/web01" and vm.managed and not vm.trusted_launch
    assert vm.os_type == "Linux"
    assert vm.os_disk.path == tmp_path / "web01-os.raw"
    data = vm.disk(0)
    assert (data.name, data.type, data.shared, data.data_access_auth, data.format) == (
        "web01-data0", DiskType.ULTRA_SSD, False, False, None
    )  # fmt: skip
    assert vm.luns == (-1, 0)


def test_defaults_order_and_absolute_paths(tmp_path: Path) -> None:
    text = (
        "name: vm1\nos_type: Windows\ndisks:\n"
        "  - {lun: 3, name: d3, path: /srv/disks/d3.img, type: premium_ssd_v2, format: raw}\n"
        + OS_DISK
    )
    vm = load_manifest(_write(tmp_path, text), "lab", check_files=False)
    assert (vm.managed, vm.trusted_launch, vm.os_type) == (True, False, "Windows")
    assert vm.luns == (-1, 3)  # sorted by LUN, the OS disk first
    assert vm.disk(3).path == Path("/srv/disks/d3.img") and vm.disk(3).format == "raw"


def test_json_manifest(tmp_path: Path) -> None:
    document = {
        "name": "vm1",
        "managed": False,
        "trusted_launch": True,
        "disks": [{"lun": -1, "name": "os", "path": "sub/os.qcow2", "type": "ultra_ssd",
                   "shared": True, "data_access_auth": True}],
    }  # fmt: skip
    vm = _load(tmp_path, json.dumps(document), "vm1.vm.json")
    assert not vm.managed and vm.trusted_launch
    disk = vm.os_disk
    assert disk.path == tmp_path / "sub" / "os.qcow2" and disk.shared and disk.data_access_auth


ERRORS = [
    # (id, document, field, words the message must contain)
    ("name-missing", "disks:\n" + OS_DISK, "name", "missing"),
    ("name-leading-dot", "name: .vm\ndisks:\n" + OS_DISK, "name", "'.vm' is not valid"),
    ("name-number", "name: 12\ndisks:\n" + OS_DISK, "name", "12 is not valid"),
    ("name-too-long", f"name: {'a' * 129}\ndisks:\n" + OS_DISK, "name", "1-128"),
    ("managed-string", "managed: 'yes'\n" + VALID, "managed", "use true or false"),
    ("trusted-int", "trusted_launch: 1\n" + VALID, "trusted_launch", "1 is not valid"),
    ("os-type-case", "os_type: linux\n" + VALID, "os_type", "Linux, Windows"),
    ("unknown-key", "tags: [a]\n" + VALID, "tags", "unknown field 'tags'"),
    ("disks-missing", "name: vm1\n", "disks", "missing"),
    ("disks-empty", "name: vm1\ndisks: []\n", "disks", "is not valid"),
    ("disk-not-mapping", "name: vm1\ndisks:\n  - os.raw\n", "disks[0]", "'os.raw'"),
    ("lun-too-big", VALID.replace("lun: 0", "lun: 64"), "disks[1].lun", "0..63"),
    ("lun-below", VALID.replace("lun: 0", "lun: -2"), "disks[1].lun", "-2 is not valid"),
    ("lun-string", VALID.replace("lun: 0", "lun: '0'"), "disks[1].lun", "'0' is not valid"),
    ("lun-bool", VALID.replace("lun: 0", "lun: true"), "disks[1].lun", "True is not valid"),
    ("lun-missing", VALID.replace("lun: 0, ", ""), "disks[1].lun", "missing"),
    ("two-os-disks", VALID.replace("lun: 0", "lun: -1"), "disks[1].lun", "LUN -1 is already"),
    ("no-os-disk", "name: vm1\ndisks:\n" + DATA_DISK, "disks", "no OS disk"),
    ("dup-lun", VALID + DATA_DISK.replace("d0", "d1"), "disks[2].lun", "used by disks[1]"),
    ("dup-name", VALID.replace("name: d0", "name: os"), "disks[1].name", "'os' is already"),
    ("dup-path", VALID.replace("d0.raw", "os.raw"), "disks[1].path", "its own image file"),
    ("disk-name-bad", VALID.replace("name: d0", "name: 'd 0'"), "disks[1].name", "'d 0'"),
    ("type-bad", VALID.replace("premium_ssd", "premium"), "disks[1].type", "premium_ssd_v2"),
    ("type-missing", VALID.replace(", type: standard_hdd", ""), "disks[0].type", "missing"),
    ("shared-string", VALID.replace("}", ", shared: 'no'}", 1), "disks[0].shared", "'no'"),
    ("daa-int", VALID.replace("d0.raw,", "d0.raw, data_access_auth: 0,"),
     "disks[1].data_access_auth", "0 is not valid"),
    ("disk-unknown-key", VALID.replace("d0.raw,", "d0.raw, size: 10G,"), "disks[1].size",
     "unknown field 'size'"),
    ("path-missing", VALID.replace("path: os.raw, ", ""), "disks[0].path", "missing"),
    ("path-empty", VALID.replace("path: os.raw", "path: ''"), "disks[0].path", "'' is not"),
    ("format-bad", VALID.replace("d0.raw,", "d0.raw, format: vmdk,"), "disks[1].format",
     "raw, qcow2"),
    ("not-a-mapping", "- name: vm1\n", "", "not a mapping"),
    ("not-yaml", "name: [vm1\n", "", "not valid YAML"),
    ("duplicate-key", "name: a\n" + VALID, "", "duplicate key 'name'"),
]  # fmt: skip


@pytest.mark.parametrize(("document", "field", "words"), [e[1:] for e in ERRORS],
                         ids=[e[0] for e in ERRORS])  # fmt: skip
def test_errors_name_the_file_and_field(
    tmp_path: Path, document: str, field: str, words: str
) -> None:
    problems = _problems(tmp_path, document)
    assert [p.field for p in problems] == [field], problems
    assert words in problems[0].message
    where = f"{tmp_path / 'vm1.vm.yaml'}: {field}: " if field else f"{tmp_path / 'vm1.vm.yaml'}: "
    assert str(problems[0]).startswith(where)


def test_json_errors_and_duplicate_keys(tmp_path: Path) -> None:
    (bad,) = _problems(tmp_path, '{"name": "vm1",', "vm1.vm.json")
    assert bad.field == "" and "not valid JSON" in bad.message and "line 1" in bad.message
    (dup,) = _problems(tmp_path, '{"name": "a", "name": "b"}', "vm2.vm.json")
    assert "duplicate key 'name'" in dup.message


def test_every_problem_of_a_document_is_reported_at_once(tmp_path: Path) -> None:
    text = "name: vm1\nos_type: BeOS\ncolour: red\ndisks:\n" + OS_DISK.replace(
        "standard_hdd", "floppy"
    ) + DATA_DISK.replace("lun: 0", "lun: 99")  # fmt: skip
    problems = _problems(tmp_path, text)
    assert sorted(p.field for p in problems) == [
        "colour", "disks[0].type", "disks[1].lun", "os_type"
    ]  # fmt: skip
    assert all(p.vm == "vm1" for p in problems)  # the name was fine: find() can use it


def test_missing_and_wrong_kind_disk_files(tmp_path: Path) -> None:
    (tmp_path / "d0.raw").mkdir()
    path = _write(tmp_path, VALID)
    with pytest.raises(ManifestError) as info:
        load_manifest(path, "lab")
    found = {p.field: p.message for p in info.value.problems}
    assert found == {
        "disks[0].path": f"disk file {tmp_path / 'os.raw'} does not exist",
        "disks[1].path": f"disk file {tmp_path / 'd0.raw'} is not a regular file "
        "(a files source holds image files)",
    }


def test_unreadable_empty_oversized_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="cannot be read: No such file"):
        load_manifest(tmp_path / "absent.vm.yaml", "lab")
    (big,) = _problems(tmp_path, "# " + "x" * (1 << 20))
    assert "larger than" in big.message
    (empty,) = _problems(tmp_path, "", "empty.vm.yaml")
    assert "the document is empty" in empty.message
    (tmp_path / "bin.vm.yaml").write_bytes(b"name: \xff\n")
    with pytest.raises(ManifestError, match="not UTF-8"):
        load_manifest(tmp_path / "bin.vm.yaml", "lab")


def test_write_manifest_round_trip(tmp_path: Path) -> None:
    text = VALID.replace("d0.raw", "/elsewhere/d0.raw").replace("}\n", ", format: qcow2}\n", 1)
    vm = load_manifest(_write(tmp_path, "managed: false\n" + text), "lab", check_files=False)
    target = tmp_path / "copy.vm.yaml"
    write_manifest(vm, target)
    written = target.read_text()
    assert "path: os.raw" in written and "path: /elsewhere/d0.raw" in written
    again = load_manifest(target, "lab", check_files=False)
    assert again == dataclasses.replace(vm, manifest=target)
    with pytest.raises(ConflictError, match="already exists"):
        write_manifest(vm, target)
    assert target.read_text() == written
    write_manifest(dataclasses.replace(vm, name="vm9"), target, overwrite=True)
    assert load_manifest(target, "lab", check_files=False).name == "vm9"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.vm.yaml", "vm1.vm.yaml"]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vm1.vm.yaml"
    path.write_text(text)
    return path
