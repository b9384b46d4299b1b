"""Sources: where VMs come from, how their disks are snapshotted and restored into them.

The ``files`` source (``FilesSource``) is a folder of VM manifests and disk images. This
package never imports the catalog, services, jobs or interfaces: services call it.
"""

from vmvault.sources.files import FilesSource
from vmvault.sources.manifest import ManifestError, load_manifest, parse_manifest, write_manifest
from vmvault.sources.model import (
    Discovery,
    DiskSpec,
    DiskType,
    ManifestProblem,
    SnapshotMethod,
    SnapshotSet,
    VmSpec,
)

__all__ = [
    "Discovery",
    "DiskSpec",
    "DiskType",
    "FilesSource",
    "ManifestError",
    "ManifestProblem",
    "SnapshotMethod",
    "SnapshotSet",
    "VmSpec",
    "load_manifest",
    "parse_manifest",
    "write_manifest",
]
