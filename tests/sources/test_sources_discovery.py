"""Discovery of a files source: good VMs are found whatever is wrong with the others."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from sources_helpers import make_vm

from vmvault.domain.errors import InvalidInputError, NotFoundError
from vmvault.sources import FilesSource, ManifestError


def test_one_bad_manifest_does_not_hide_two_good_ones(tmp_path: Path) -> None:
    make_vm(tmp_path, "app01")
    make_vm(tmp_path, "web01", qcow2_luns=(0,))
    (tmp_path / "db01.vm.yaml").write_text(
        "name: db01\ndisks:\n  - {lun: -1, name: db01-os, path: x.raw, type: fast_ssd}\n"
    )
    found = FilesSource("lab", tmp_path).discover()
    assert found.names() == ["app01", "web01"]
    assert [vm.id for vm in found.vms] == ["lab/app01", "lab/web01"]
    (problem,) = found.problems
    assert (problem.file, problem.field, problem.vm) == (
        tmp_path / "db01.vm.yaml", "disks[0].type", "db01"
    )  # fmt: skip
    assert "'fast_ssd' is not valid" in problem.message
    web = found.vms[1]
    assert web.disk(0).path == tmp_path / "web01-data0.qcow2"


def test_a_missing_disk_file_is_a_problem_of_its_manifest(tmp_path: Path) -> None:
    make_vm(tmp_path, "app01")
    make_vm(tmp_path, "web01", luns=(-1, 0, 1))
    (tmp_path / "web01-data1.raw").unlink()
    found = FilesSource("lab", tmp_path).discover()
    assert found.names() == ["app01"]
    (problem,) = found.problems
    assert problem.field == "disks[2].path"
    assert problem.message == f"disk file {tmp_path / 'web01-data1.raw'} does not exist"


def test_duplicate_vm_names_are_a_problem_of_the_later_file(tmp_path: Path) -> None:
    make_vm(tmp_path, "web01")
    copy = (tmp_path / "web01.vm.yaml").read_text()
    (tmp_path / "zz-web01-copy.vm.json").write_text(_as_json(copy))
    (tmp_path / "a-web01.vm.yml").write_text(copy)  # sorts first: it wins
    found = FilesSource("lab", tmp_path).discover()
    assert [vm.manifest.name for vm in found.vms] == ["a-web01.vm.yml"]
    assert [(p.file.name, p.field) for p in found.problems] == [
        ("web01.vm.yaml", "name"), ("zz-web01-copy.vm.json", "name")
    ]  # fmt: skip
    assert "already used by a-web01.vm.yml" in found.problems[0].message


def test_only_manifests_directly_in_the_folder_are_read(tmp_path: Path) -> None:
    make_vm(tmp_path, "web01")
    (tmp_path / "nested").mkdir()
    make_vm(tmp_path / "nested", "deep01")  # not recursed into
    (tmp_path / ".hidden.vm.yaml").write_text("not: [yaml")  # hidden: never a manifest
    (tmp_path / "notes.yaml").write_text("name: notes")  # not *.vm.yaml
    (tmp_path / "dir.vm.yaml").mkdir()  # a folder with a manifest's name
    found = FilesSource("lab", tmp_path).discover()
    assert found.names() == ["web01"] and found.problems == ()


def test_empty_and_missing_folders(tmp_path: Path) -> None:
    found = FilesSource("lab", tmp_path).discover()
    assert found.vms == () and found.problems == ()
    with pytest.raises(NotFoundError, match="does not exist") as info:
        FilesSource("lab", tmp_path / "gone").discover()
    assert info.value.code == "UserErrorSourceFolderNotFound"


def test_find_by_bare_name_or_id(tmp_path: Path) -> None:
    make_vm(tmp_path, "web01")
    make_vm(tmp_path, "app01")
    source = FilesSource("lab", tmp_path)
    assert source.find("web01") == source.find("lab/web01")
    assert source.find("web01").id == "lab/web01"
    for name in ("web02", "other/web01"):
        with pytest.raises(NotFoundError) as info:
            source.find(name)
        assert info.value.code == "UserErrorVmNotFound"
        assert "source lab" in info.value.message and "its VMs: app01, web01" in str(info.value)


def test_find_a_vm_whose_manifest_is_broken_says_why(tmp_path: Path) -> None:
    make_vm(tmp_path, "web01")
    (tmp_path / "web01-os.raw").unlink()
    (tmp_path / "db01.vm.yaml").write_text("name: [db01\n")  # unparsable: known by file name
    source = FilesSource("lab", tmp_path)
    with pytest.raises(ManifestError, match=r"disks\[0\]\.path: disk file .* does not exist"):
        source.find("lab/web01")
    with pytest.raises(ManifestError, match="not valid YAML"):
        source.find("db01")


def test_vm_spec_helpers_and_source_name(tmp_path: Path) -> None:
    make_vm(tmp_path, "web01", luns=(-1, 0, 5))
    vm = FilesSource("lab", tmp_path).find("web01")
    assert vm.os_disk.lun == -1 and vm.os_disk.is_os_disk and vm.luns == (-1, 0, 5)
    with pytest.raises(NotFoundError, match="VM lab/web01 has no disk at LUN 3: its LUNs are"):
        vm.disk(3)
    with pytest.raises(InvalidInputError, match="source name 'a/b' is not valid"):
        FilesSource("a/b", tmp_path)


def _as_json(yaml_text: str) -> str:
    return json.dumps(yaml.safe_load(yaml_text))
