"""Sources of VMs (``files`` folders) and the VMs they hold."""

from __future__ import annotations

import os
import re
from pathlib import Path

from vmvault.catalog.items import ItemStore, SourceRecord
from vmvault.catalog.repository import DuplicateNameError
from vmvault.clock import Clock
from vmvault.domain.errors import ConflictError, InvalidInputError, NotFoundError
from vmvault.sources.files import FilesSource
from vmvault.sources.model import Discovery, ManifestProblem, VmSpec

SOURCE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
SOURCE_TYPES = ("files",)


class SourceService:
    def __init__(self, items: ItemStore, clock: Clock) -> None:
        self.items = items
        self.clock = clock

    def add(self, name: str, type_: str, path: str) -> SourceRecord:
        """Register a source; a ``files`` source is a folder of ``*.vm.yaml`` manifests."""
        if not SOURCE_NAME.match(name):
            raise InvalidInputError(
                f"--name {name!r} is not a valid source name: 1 to 64 letters, digits, '-' and "
                "'_', starting with a letter"
            )
        if type_ not in SOURCE_TYPES:
            raise InvalidInputError(
                f"--type {type_!r} is not valid: allowed values are {', '.join(SOURCE_TYPES)}"
            )
        folder = Path(path).expanduser().resolve()
        if not folder.is_dir():
            raise InvalidInputError(f"--path {str(folder)!r} is not a folder")
        self._check_location_free(folder)
        try:
            return self.items.add_source(name, type_, str(folder), self.clock.now())
        except DuplicateNameError:
            raise ConflictError(
                f"source {name!r} already exists", code="UserErrorSourceAlreadyExists"
            ) from None

    def _check_location_free(self, folder: Path) -> None:
        """Refuse a folder another source already covers: the same path, or the same folder
        reached another way (a symlink is resolved already; a bind mount has the same device
        and inode). Two sources over one folder would let one VM be protected twice."""
        identity = _identity(folder)
        for other in self.items.sources():
            if other.location == str(folder) or (
                identity is not None and _identity(Path(other.location)) == identity
            ):
                raise ConflictError(
                    f"--path {str(folder)!r} is already the folder of source {other.name!r} "
                    f"({other.location}): a folder belongs to one source; use source "
                    f"{other.name!r}",
                    code="UserErrorSourceLocationInUse",
                )

    def delete(self, name: str) -> SourceRecord:
        """Remove a source from the catalog (its folder and files are not touched). Refused
        while any item of any vault, protected or stopped with its points kept, comes from it."""
        source = self.get(name)
        items = self.items.items_of_source(source.id)
        if items:
            raise ConflictError(
                f"source {name!r} cannot be deleted: it has {len(items)} protected item(s) "
                f"({', '.join(i.name for i in items[:5])}); stop their protection with "
                "`vmvault protection disable --delete-backup-data` first",
                code="UserErrorSourceHasProtectedItems",
            )
        if not self.items.remove_source(source.id):  # an item was protected meanwhile
            raise ConflictError(
                f"source {name!r} cannot be deleted: an item was protected from it meanwhile",
                code="UserErrorSourceHasProtectedItems",
            )
        return source

    def all(self) -> list[SourceRecord]:
        return self.items.sources()

    def get(self, name: str) -> SourceRecord:
        for source in self.items.sources():
            if source.name == name:
                return source
        raise NotFoundError(
            f"source {name!r} was not found: `vmvault source list` shows the sources that exist"
        )

    def open(self, source: SourceRecord) -> FilesSource:
        return FilesSource(source.name, Path(source.location))

    def discover(self, source: str | None = None) -> tuple[list[VmSpec], list[ManifestProblem]]:
        """Every VM of one source (or all), and the manifests that could not be read."""
        records = [self.get(source)] if source else self.all()
        vms: list[VmSpec] = []
        problems: list[ManifestProblem] = []
        for record in records:
            found: Discovery = self.open(record).discover()
            vms.extend(found.vms)
            problems.extend(found.problems)
        return vms, problems

    def vm(self, ref: str) -> VmSpec:
        """A VM by ``source/name``, or by a bare name when exactly one source has it."""
        source, _, name = ref.rpartition("/")
        if source:
            return self.open(self.get(source)).find(name)
        matches = [vm for vm in self.discover()[0] if vm.name == name]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise NotFoundError(
                f"VM {ref!r} was not found in any source: `vmvault vm list` shows the VMs",
                code="UserErrorVMNotFound",
            )
        raise InvalidInputError(
            f"--vm {ref!r} is ambiguous: it is in sources "
            + ", ".join(vm.source for vm in matches)
            + "; write SOURCE/NAME"
        )


def _identity(folder: Path) -> tuple[int, int] | None:
    """(device, inode) of a folder, or None if it cannot be read now."""
    try:
        st = os.stat(folder)
    except OSError:
        return None
    return st.st_dev, st.st_ino
