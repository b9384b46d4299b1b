"""VM manifests: one ``*.vm.yaml`` / ``*.vm.json`` file describes one VM of a files source.

Validation is strict and complete: unknown keys are refused (a typo such as ``shard: true``
must not silently mean "not shared"), and every problem of a document is reported at once as a
``ManifestProblem`` naming the file, the field path (``disks[1].type``), the value given and
what is allowed. YAML is read with ``safe_load`` semantics plus a refusal of duplicate keys
(PyYAML would keep the last one silently); JSON likewise.

Disk paths: relative paths are relative to the manifest's folder; absolute paths are accepted
as they are (a source may describe disks kept on another volume). ``~`` is not expanded.
"""

from __future__ import annotations

import json
import os
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from vmvault.domain.errors import InvalidInputError
from vmvault.sources.fsops import publish_file
from vmvault.sources.model import (
    DISK_FORMATS,
    MAX_DATA_LUN,
    OS_LUN,
    OS_TYPES,
    DiskSpec,
    DiskType,
    ManifestProblem,
    VmSpec,
)
from vmvault.sources.validate import Problems, check_bool, check_name, check_regular_file

MANIFEST_SUFFIXES = (".vm.yaml", ".vm.yml", ".vm.json")
MAX_MANIFEST_BYTES = 1 << 20  # a manifest is a few hundred bytes; refuse to parse a stray disk
VM_KEYS = ("name", "managed", "trusted_launch", "os_type", "disks")
DISK_KEYS = ("lun", "name", "path", "type", "shared", "data_access_auth", "format")


class ManifestError(InvalidInputError):
    """One manifest cannot be used; ``problems`` lists every reason (file, field, message)."""

    code = "UserErrorInvalidVmManifest"

    def __init__(self, problems: Sequence[ManifestProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = tuple(problems)


def load_manifest(path: Path, source: str, *, check_files: bool = True) -> VmSpec:
    """Read, parse and validate the manifest at ``path`` into a ``VmSpec`` of ``source``.

    With ``check_files`` every disk file must exist and be a regular file (a problem at
    ``disks[i].path`` otherwise). Raises ``ManifestError`` carrying all problems found; never
    any other error for a bad document or an unreadable file.
    """
    path = Path(path).absolute()
    return parse_manifest(_read(path), path, source, check_files=check_files)


def parse_manifest(data: object, file: Path, source: str, *, check_files: bool = True) -> VmSpec:
    """Validate an already-decoded document ``data`` read from ``file`` (pure but for the disk
    file checks of ``check_files``). Raises ``ManifestError`` with every problem found."""
    problems = Problems(file)
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        problems.add("", f"the document is {kind}, not a mapping of fields ({', '.join(VM_KEYS)})")
        raise ManifestError(problems.found)
    name = check_name(problems, data.get("name"), "name", "VM name")
    problems.vm = name  # every problem found from here on names the VM
    problems.refuse_unknown(data, VM_KEYS, "")
    managed = check_bool(problems, data, "managed", "", default=True)
    trusted_launch = check_bool(problems, data, "trusted_launch", "", default=False)
    os_type = data.get("os_type", "Linux")
    if os_type not in OS_TYPES:
        problems.add("os_type", f"{os_type!r} is not valid: use one of {', '.join(OS_TYPES)}")
    disks = _disks(problems, data.get("disks"), file.parent, check_files)
    if problems.found or name is None:
        raise ManifestError(problems.found)
    return VmSpec(
        source=source,
        name=name,
        managed=managed,
        trusted_launch=trusted_launch,
        os_type=str(os_type),
        disks=tuple(sorted(disks, key=lambda d: d.lun)),
        manifest=file,
    )


def _disks(problems: Problems, value: object, base: Path, check_files: bool) -> list[DiskSpec]:
    if not isinstance(value, list) or not value:
        got = "missing" if value is None else f"{value!r} is not valid"
        problems.add(
            "disks",
            f"{got}: a list of disks, the OS disk (lun {OS_LUN}) and any data disks "
            f"(lun 0..{MAX_DATA_LUN})",
        )
        return []
    disks: list[DiskSpec] = []
    luns: dict[int, int] = {}  # lun -> index of the disk that has it
    names: dict[str, int] = {}
    paths: dict[Path, int] = {}
    for i, entry in enumerate(value):
        disk = _disk(problems, entry, f"disks[{i}]", base, check_files)
        if disk is None:
            continue
        if disk.lun in luns:
            problems.add(
                f"disks[{i}].lun",
                f"LUN {disk.lun} is already used by "
                f"disks[{luns[disk.lun]}]: each disk needs its own LUN",
            )
        elif disk.name in names:
            problems.add(
                f"disks[{i}].name",
                f"{disk.name!r} is already the name of "
                f"disks[{names[disk.name]}]: disk names are unique in a VM",
            )
        elif disk.path in paths:
            problems.add(
                f"disks[{i}].path",
                f"{str(disk.path)!r} is already the file of disks[{paths[disk.path]}]: "
                "each disk needs its own image file",
            )
        else:
            luns[disk.lun] = i
            names[disk.name] = i
            paths[disk.path] = i
            disks.append(disk)
    if OS_LUN not in luns and len(disks) == len(value):
        problems.add("disks", f"no OS disk: exactly one disk needs lun {OS_LUN}")
    return disks


def _disk(
    problems: Problems, entry: object, field: str, base: Path, check_files: bool
) -> DiskSpec | None:
    if not isinstance(entry, dict):
        problems.add(field, f"{entry!r} is not valid: a mapping with {', '.join(DISK_KEYS)}")
        return None
    before = len(problems.found)
    problems.refuse_unknown(entry, DISK_KEYS, field)
    lun = entry.get("lun")
    if isinstance(lun, bool) or not isinstance(lun, int) or not OS_LUN <= lun <= MAX_DATA_LUN:
        got = "missing" if lun is None else f"{lun!r} is not valid"
        problems.add(
            f"{field}.lun", f"{got}: {OS_LUN} for the OS disk, 0..{MAX_DATA_LUN} for data disks"
        )
    name = check_name(problems, entry.get("name"), f"{field}.name", "disk name")
    path = _path(problems, entry.get("path"), f"{field}.path", base)
    disk_type = entry.get("type")
    if disk_type not in tuple(t.value for t in DiskType):
        got = "missing" if disk_type is None else f"{disk_type!r} is not valid"
        problems.add(f"{field}.type", f"{got}: use one of {', '.join(t.value for t in DiskType)}")
    shared = check_bool(problems, entry, "shared", field, default=False)
    data_access_auth = check_bool(problems, entry, "data_access_auth", field, default=False)
    fmt = entry.get("format")
    if fmt is not None and fmt not in DISK_FORMATS:
        problems.add(
            f"{field}.format",
            f"{fmt!r} is not valid: use one of "
            f"{', '.join(DISK_FORMATS)}, or leave it out to detect the format",
        )
    if len(problems.found) > before or name is None or path is None:
        return None
    if check_files:
        message = check_regular_file(path)
        if message is not None:
            problems.add(f"{field}.path", message)
            return None
    assert isinstance(lun, int) and isinstance(disk_type, str)
    return DiskSpec(lun, name, path, DiskType(disk_type), shared, data_access_auth, fmt)


def _path(problems: Problems, value: object, field: str, base: Path) -> Path | None:
    if not isinstance(value, str) or not value or "\0" in value:
        got = "missing" if value is None else f"{value!r} is not valid"
        problems.add(
            field, f"{got}: the disk image file, relative to the manifest's folder or absolute"
        )
        return None
    path = Path(value)
    return path if path.is_absolute() else base / path


def _read(path: Path) -> object:
    problems = Problems(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        problems.add("", f"cannot be read: {exc.strerror or exc}")
        raise ManifestError(problems.found) from exc
    if len(raw) > MAX_MANIFEST_BYTES:
        problems.add("", f"is larger than {MAX_MANIFEST_BYTES} bytes: not a VM manifest")
        raise ManifestError(problems.found)
    try:
        text = raw.decode("utf-8")
        if path.name.endswith(".json"):
            return json.loads(text, object_pairs_hook=_json_object)
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader: no object tags
    except UnicodeDecodeError:
        problems.add("", "is not UTF-8 text")
    except json.JSONDecodeError as exc:
        problems.add("", f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
    except (yaml.YAMLError, ValueError) as exc:
        problems.add("", f"is not valid YAML: {' '.join(str(exc).split())}")
    raise ManifestError(problems.found)


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


class _StrictLoader(yaml.SafeLoader):
    """``yaml.safe_load`` semantics, but a key given twice in one mapping is an error."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[object] = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def write_manifest(vm: VmSpec, path: Path, *, overwrite: bool = False) -> None:
    """Write ``vm`` as a YAML manifest at ``path``, durably and atomically.

    Disk paths inside ``path``'s folder are written relative to it, others absolute. The file
    is written under a hidden temporary name (which discovery ignores), fsynced and then linked
    into place: without ``overwrite`` an existing ``path`` raises ``ConflictError`` and is left
    untouched. ``load_manifest(path, vm.source)`` gives ``vm`` back (with ``manifest=path``).
    """
    folder = Path(path).absolute().parent
    document: dict[str, object] = {
        "name": vm.name,
        "managed": vm.managed,
        "trusted_launch": vm.trusted_launch,
        "os_type": vm.os_type,
        "disks": [_disk_document(d, folder) for d in vm.disks],
    }
    text = yaml.safe_dump(document, sort_keys=False, default_flow_style=None, width=1000)
    publish_file(Path(path), text.encode(), overwrite=overwrite)


def _disk_document(disk: DiskSpec, folder: Path) -> Mapping[str, object]:
    path = disk.path
    shown = os.path.relpath(path, folder) if path.is_relative_to(folder) else str(path)
    document: dict[str, object] = {
        "lun": disk.lun,
        "name": disk.name,
        "path": shown,
        "type": disk.type.value,
        "shared": disk.shared,
        "data_access_auth": disk.data_access_auth,
    }
    if disk.format is not None:
        document["format"] = disk.format
    return document


def is_manifest_name(name: str) -> bool:
    """Whether a file name is a VM manifest discovery reads (hidden files never are)."""
    return not name.startswith(".") and name.endswith(MANIFEST_SUFFIXES)


__all__ = [
    "MANIFEST_SUFFIXES",
    "ManifestError",
    "is_manifest_name",
    "load_manifest",
    "parse_manifest",
    "write_manifest",
]
