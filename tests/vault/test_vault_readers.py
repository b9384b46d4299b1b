"""Disk readers on real images: sparse raw files, a loop block device, qcow2 through qemu-nbd.

Every image is built here with the real tools (``os.truncate`` + ``pwrite``, ``losetup``,
``qemu-img create``/``qemu-io``) and every read is checked bit for bit, against a model of the
writes and against the file itself or ``qemu-img convert -O raw``. The autouse guard fails any
test that leaves a qemu-nbd child of this process behind, zombies included.
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from vmvault.domain.errors import InvalidInputError, NotFoundError, VmvaultError
from vmvault.vault.allocator import aligned_buffer
from vmvault.vault.disks import DiskReader, Extent
from vmvault.vault.readers import (
    Qcow2DiskReader,
    RawDiskReader,
    allocated_chunks,
    chunks_touched,
    detect_format,
    open_disk,
)

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30

# A write into an image: (offset, length, fill byte); fill None means a zero write
# (``qemu-io write -z``: a zero cluster in qcow2).
Write = tuple[int, int, int | None]

needs_qemu = pytest.mark.skipif(
    shutil.which("qemu-img") is None or shutil.which("qemu-nbd") is None,
    reason="qemu-utils is not installed (scripts/bootstrap.sh installs it)",
)


# -- fixtures --------------------------------------------------------------------------------


def _qemu_nbd_children() -> list[int]:
    """qemu-nbd processes whose parent is this test process (libnbd forks them), zombies too."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # exited meanwhile
            continue
        comm = text[text.index("(") + 1 : text.rindex(")")]
        ppid = int(text[text.rindex(")") + 2 :].split()[1])
        if comm == "qemu-nbd" and ppid == os.getpid():
            found.append(int(entry))
    return found


@pytest.fixture(autouse=True)
def no_qemu_nbd_left() -> Iterator[None]:
    assert _qemu_nbd_children() == [], "a previous test left qemu-nbd running"
    yield
    assert _qemu_nbd_children() == [], "qemu-nbd still running after the reader closed"


def _model(size: int, layers: Sequence[Sequence[Write]]) -> bytes:
    """The logical content after applying each layer's writes in order (lower layers first)."""
    content = bytearray(size)
    for layer in layers:
        for offset, length, fill in layer:
            content[offset : offset + length] = bytes([fill or 0]) * length
    return bytes(content)


@pytest.fixture
def make_raw_image(tmp_path: Path) -> Callable[[str, int, Sequence[Write]], Path]:
    """A sparse raw file of ``size`` bytes with only the given writes (holes elsewhere)."""

    def make(name: str, size: int, writes: Sequence[Write]) -> Path:
        path = tmp_path / name
        with path.open("wb") as f:
            os.truncate(f.fileno(), size)
            for offset, length, fill in writes:
                os.pwrite(f.fileno(), bytes([fill or 0]) * length, offset)
        return path

    return make


@pytest.fixture
def make_qcow2_image(tmp_path: Path) -> Callable[..., Path]:
    """A qcow2 of virtual ``size`` (optionally over ``backing``) with the writes done by qemu-io."""

    def make(name: str, size: int, writes: Sequence[Write], backing: Path | None = None) -> Path:
        path = tmp_path / name
        create = ["qemu-img", "create", "-q", "-f", "qcow2"]
        if backing is not None:
            create += ["-b", str(backing), "-F", "qcow2"]
        subprocess.run([*create, str(path), str(size)], check=True)
        commands: list[str] = []
        for offset, length, fill in writes:
            op = (
                f"write -z {offset} {length}"
                if fill is None
                else f"write -P {fill} {offset} {length}"
            )
            commands += ["-c", op]
        if commands:
            subprocess.run(
                ["qemu-io", "-f", "qcow2", *commands, str(path)], check=True, capture_output=True
            )
        return path

    return make


@pytest.fixture
def loop_device() -> Iterator[Callable[[Path], str]]:
    """Attach files read-only to free loop devices; detach them all at teardown."""
    if os.geteuid() != 0 or not Path("/dev/loop-control").exists():
        pytest.skip("loop devices need root and /dev/loop-control")
    attached: list[str] = []

    def attach(path: Path) -> str:
        out = subprocess.run(
            ["losetup", "--find", "--show", "--read-only", str(path)],
            check=True,
            capture_output=True,
            text=True,
        )
        attached.append(out.stdout.strip())
        return attached[-1]

    yield attach
    for device in attached:
        subprocess.run(["losetup", "--detach", device], check=True)


# -- helpers ---------------------------------------------------------------------------------


def _sha_through(reader: DiskReader, piece: int = 3 * MiB + 4097) -> str:
    """SHA-256 of the full logical content, read in odd-sized pieces to cross every boundary."""
    digest = hashlib.sha256()
    for offset in range(0, reader.size, piece):
        digest.update(reader.read(offset, min(piece, reader.size - offset)))
    return digest.hexdigest()


def _sha_from_allocation(reader: DiskReader) -> str:
    """SHA-256 of the content rebuilt from allocated extents only, zeros elsewhere."""
    digest = hashlib.sha256()
    pos = 0
    for extent in reader.allocated():
        digest.update(bytes(extent.offset - pos))
        digest.update(reader.read(extent.offset, extent.length))
        pos = extent.end
    digest.update(bytes(reader.size - pos))
    return digest.hexdigest()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_extents(extents: list[Extent], size: int) -> None:
    """Sorted, non-empty, inside the disk, and merged (a gap between any two).

    That they cover every non-zero byte is what ``_sha_from_allocation`` proves.
    """
    for a, b in itertools.pairwise(extents):
        assert a.end < b.offset, (a, b)
    assert all(e.length > 0 and e.offset >= 0 and e.end <= size for e in extents)


def _fs_reports_holes(folder: Path) -> bool:
    probe = folder / "hole-probe"
    with probe.open("wb") as f:
        os.truncate(f.fileno(), 8 * MiB)
        os.pwrite(f.fileno(), b"x" * 4096, 4 * MiB)
        found = os.lseek(f.fileno(), 0, os.SEEK_DATA)
    probe.unlink()
    return found > 0


def _qemu_raw_sha(image: Path, tmp_path: Path) -> str:
    out = tmp_path / f"{image.name}.converted.raw"
    subprocess.run(["qemu-img", "convert", "-O", "raw", str(image), str(out)], check=True)
    try:
        return _sha(out.read_bytes())
    finally:
        out.unlink()


# -- raw files -------------------------------------------------------------------------------

RAW_SIZE = 64 * MiB
RAW_WRITES: list[Write] = [
    (0, 4 * KiB, 0x11),
    (10 * MiB, 1 * MiB, 0x22),
    (33 * MiB + 100, 5000, 0x33),  # unaligned
    (RAW_SIZE - 4 * KiB, 4 * KiB, 0x44),  # data up to end of file
]


def test_raw_sparse_file_skips_holes_and_reads_exactly(
    make_raw_image: Callable[[str, int, Sequence[Write]], Path], tmp_path: Path
) -> None:
    path = make_raw_image("sparse.raw", RAW_SIZE, RAW_WRITES)
    with open_disk(path) as reader:
        assert isinstance(reader, RawDiskReader)
        assert reader.size == RAW_SIZE
        extents = list(reader.allocated())
        _check_extents(extents, RAW_SIZE)
        holes = _fs_reports_holes(tmp_path)
        if holes:
            assert sum(e.length for e in extents) < 4 * MiB, extents
        else:  # a filesystem without hole reporting: one extent, still correct
            assert extents == [Extent(0, RAW_SIZE)]
        file_sha = _sha(path.read_bytes())
        assert _sha_through(reader) == file_sha
        assert _sha_from_allocation(reader) == file_sha
        assert allocated_chunks(reader, 4 * MiB) == ([0, 2, 8, 15] if holes else list(range(16)))


def test_raw_read_edges(make_raw_image: Callable[[str, int, Sequence[Write]], Path]) -> None:
    path = make_raw_image("edges.raw", 10_000, [(9_000, 1_000, 0x5A)])
    with RawDiskReader(path) as reader:
        assert reader.read(8_999, 3) == b"\0ZZ"
        assert reader.read(9_990, 20) == b"Z" * 10 + bytes(10)  # zero-filled past the end
        assert reader.read(20_000, 5) == bytes(5)
        assert reader.read(5, 0) == b""
        with pytest.raises(ValueError):
            reader.read(-1, 5)
    with pytest.raises(ValueError, match="closed"):
        reader.read(0, 1)
    reader.close()  # idempotent


def test_raw_empty_file(make_raw_image: Callable[[str, int, Sequence[Write]], Path]) -> None:
    with RawDiskReader(make_raw_image("empty.raw", 0, [])) as reader:
        assert reader.size == 0
        assert list(reader.allocated()) == []
        assert reader.read(0, 7) == bytes(7)


def test_raw_short_preads_are_completed(
    make_raw_image: Callable[[str, int, Sequence[Write]], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_raw_image("short.raw", 1 * MiB, [(0, 1 * MiB, 0x77)])
    real_pread = os.pread
    monkeypatch.setattr(os, "pread", lambda fd, n, off: real_pread(fd, min(n, 1000), off))
    with RawDiskReader(path) as reader:
        assert reader.read(123, 300_000) == b"\x77" * 300_000


def test_raw_file_shrunk_after_open_reads_zeros(
    make_raw_image: Callable[[str, int, Sequence[Write]], Path],
) -> None:
    path = make_raw_image("shrink.raw", 8192, [(0, 8192, 0x01)])
    with RawDiskReader(path) as reader:
        os.truncate(path, 4096)
        assert reader.read(4000, 200) == b"\x01" * 96 + bytes(104)


def test_raw_concurrent_reads(make_raw_image: Callable[[str, int, Sequence[Write]], Path]) -> None:
    path = make_raw_image("threads.raw", 16 * MiB, [(0, 16 * MiB, 0x00)])
    content = random.Random(7).randbytes(16 * MiB)
    path.write_bytes(content)
    with RawDiskReader(path) as reader, ThreadPoolExecutor(8) as pool:
        offsets = range(0, 16 * MiB, 256 * KiB)
        results = list(pool.map(lambda off: reader.read(off, 256 * KiB), offsets))
    assert b"".join(results) == content


@pytest.mark.parametrize("direct", [True, False])
def test_raw_read_into_matches_read_with_and_without_o_direct(
    make_raw_image: Callable[[str, int, Sequence[Write]], Path], direct: bool
) -> None:
    size = 1 * MiB + 1000
    path = make_raw_image("into.raw", size, [])
    content = random.Random(3).randbytes(size)
    path.write_bytes(content)
    buf = aligned_buffer(256 * KiB)
    with RawDiskReader(path, direct=True) as reader:
        if direct:  # the test folder's filesystem must do direct I/O for this case
            assert reader._direct is not None
        else:
            os.close(reader._direct or os.open(path, os.O_RDONLY))
            reader._direct = None
        for offset, length in [(0, 256 * KiB), (768 * KiB, 256 * KiB), (MiB, 1000),
                               (MiB, 256 * KiB), (size + 5, 100), (1000, 5000)]:  # fmt: skip
            got = reader.read_into(offset, length, buf)
            assert (
                bytes(got)
                == reader.read(offset, length)
                == (content[offset : offset + length].ljust(length, b"\0"))
            )
        os.truncate(path, 4096)  # shrunk after open: zeros, as with read
        assert bytes(reader.read_into(0, 8192, buf)) == content[:4096] + bytes(4096)


def test_raw_read_into_falls_back_when_direct_reads_are_refused(
    make_raw_image: Callable[[str, int, Sequence[Write]], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_raw_image("einval.raw", 64 * KiB, [(0, 64 * KiB, 0x33)])
    real = os.preadv
    with RawDiskReader(path, direct=True) as reader:
        direct = reader._direct

        def preadv(fd: int, buffers: list[memoryview], offset: int) -> int:
            if fd == direct:
                raise OSError(errno.EINVAL, "Invalid argument")
            return real(fd, buffers, offset)

        monkeypatch.setattr(os, "preadv", preadv)
        assert bytes(reader.read_into(0, 64 * KiB, aligned_buffer(64 * KiB))) == b"\x33" * (
            64 * KiB
        )
        assert reader._direct_refused and reader._direct is not None  # closed only by close()


def test_raw_block_device(
    make_raw_image: Callable[[str, int, Sequence[Write]], Path],
    loop_device: Callable[[Path], str],
) -> None:
    path = make_raw_image("disk.img", 8 * MiB, [(1 * MiB, 64 * KiB, 0x61), (7 * MiB, 5, 0x62)])
    device = loop_device(path)
    assert detect_format(device) == "raw"
    with open_disk(device) as reader:
        assert isinstance(reader, RawDiskReader) and reader.is_block_device
        assert reader.size == 8 * MiB
        assert list(reader.allocated()) == [Extent(0, 8 * MiB)]
        assert _sha_through(reader) == _sha(path.read_bytes())


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", [None, "raw", "qcow2"])
def test_missing_image_names_the_path(tmp_path: Path, fmt: str | None) -> None:
    missing = tmp_path / "nope" / "disk.raw"
    with pytest.raises(NotFoundError) as info:
        open_disk(missing, fmt)
    assert str(missing) in str(info.value) and "\n" not in str(info.value)


def test_path_through_a_file_is_not_found(tmp_path: Path) -> None:
    (tmp_path / "plain").write_bytes(b"x")
    with pytest.raises(NotFoundError, match="plain/disk"):
        open_disk(tmp_path / "plain" / "disk")


def test_directory_is_not_a_disk(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="not a regular file or a block device") as info:
        open_disk(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    (tmp_path / "d.vmdk").write_bytes(b"KDMV")
    with pytest.raises(InvalidInputError, match=r"'vmdk'.*raw, qcow2"):
        open_disk(tmp_path / "d.vmdk", "vmdk")


def test_unreadable_image(tmp_path: Path) -> None:
    # root reads any file, so as root the check runs with the effective uid of ``nobody``
    # (restored in ``finally``), in a folder nobody may enter but whose file it may not read.
    folder = Path(tempfile.mkdtemp(prefix="vmvault-perm-")) if os.geteuid() == 0 else tmp_path
    try:
        folder.chmod(0o755)
        path = folder / "secret.raw"
        path.write_bytes(b"x" * 512)
        path.chmod(0)
        if os.geteuid() == 0:
            os.seteuid(65534)
        try:
            with pytest.raises(InvalidInputError) as info:
                open_disk(path)
        finally:
            if os.getuid() == 0:
                os.seteuid(0)
        assert info.value.code == "UserErrorDiskNotReadable"
        assert str(info.value) == (
            f"disk image {path} is not readable (permission denied): "
            "grant read access to the user running vmvault"
        )
    finally:
        if folder != tmp_path:
            shutil.rmtree(folder)


# -- qcow2 -----------------------------------------------------------------------------------

Q_SIZE = 64 * MiB
Q_WRITES: list[Write] = [
    (0, 64 * KiB, 0xAA),
    (1000, 3000, 0xAB),  # unaligned, inside a written cluster
    (5 * MiB, 2 * MiB, 0xBB),
    (20 * MiB, 1 * MiB, None),  # zero write over nothing: a zero cluster
    (40 * MiB, 1 * MiB, 0xCC),
    (40 * MiB + 512 * KiB, 256 * KiB, None),  # zero write punched into data
    (Q_SIZE - 64 * KiB, 64 * KiB, 0xDD),
]


@needs_qemu
def test_qcow2_reads_match_qemu_and_skip_zeros(
    make_qcow2_image: Callable[..., Path], tmp_path: Path
) -> None:
    image = make_qcow2_image("simple.qcow2", Q_SIZE, Q_WRITES)
    expected = _model(Q_SIZE, [Q_WRITES])
    assert detect_format(image) == "qcow2"
    with open_disk(image) as reader:
        assert isinstance(reader, Qcow2DiskReader)
        assert reader.size == Q_SIZE
        extents = list(reader.allocated())
        _check_extents(extents, Q_SIZE)
        zero_ranges = [(20 * MiB, 1 * MiB), (40 * MiB + 512 * KiB, 256 * KiB)]
        for offset, length in zero_ranges:  # zero writes are not data
            assert all(e.end <= offset or e.offset >= offset + length for e in extents), extents
        assert sum(e.length for e in extents) == 64 * KiB + 2 * MiB + 768 * KiB + 64 * KiB
        assert _sha_through(reader) == _sha(expected) == _qemu_raw_sha(image, tmp_path)
        assert _sha_from_allocation(reader) == _sha(expected)
        assert reader.read(1000 - 2, 4) == b"\xaa\xaa\xab\xab"
        assert reader.read(Q_SIZE - 2, 4) == b"\xdd\xdd\0\0"


BASE_WRITES: list[Write] = [
    (0, 1 * MiB, 0x10),  # half overwritten by the top layer
    (8 * MiB, 2 * MiB, 0x20),  # half zeroed by the top layer
    (30 * MiB, 1 * MiB, 0x30),  # only in the base
]
TOP_WRITES: list[Write] = [
    (512 * KiB, 1 * MiB, 0x40),
    (8 * MiB, 1 * MiB, None),
    (50 * MiB, 64 * KiB, 0x50),
]


@needs_qemu
def test_qcow2_backing_chain_is_merged(
    make_qcow2_image: Callable[..., Path], tmp_path: Path
) -> None:
    base = make_qcow2_image("base.qcow2", Q_SIZE, BASE_WRITES)
    top = make_qcow2_image("top.qcow2", Q_SIZE, TOP_WRITES, backing=base)
    expected = _model(Q_SIZE, [BASE_WRITES, TOP_WRITES])
    files_before = [_sha(p.read_bytes()) for p in (base, top)]
    with open_disk(top) as reader:
        extents = list(reader.allocated())
        assert extents == [
            Extent(0, 1536 * KiB),  # base and top data merged into one extent
            Extent(9 * MiB, 1 * MiB),  # base data the top did not zero
            Extent(30 * MiB, 1 * MiB),  # data present only in the backing file
            Extent(50 * MiB, 64 * KiB),
        ]
        assert reader.read(30 * MiB, 1 * MiB) == b"\x30" * MiB
        assert _sha_through(reader) == _sha(expected) == _qemu_raw_sha(top, tmp_path)
    assert [_sha(p.read_bytes()) for p in (base, top)] == files_before  # opened read-only


@needs_qemu
def test_qcow2_huge_sparse_disk_enumerates_fast_and_reads_only_data(
    make_qcow2_image: Callable[..., Path],
) -> None:
    writes: list[Write] = [(0, 1 * MiB, 0x01), (17 * GiB + 3 * MiB, 1 * MiB, 0x02)]
    writes.append((64 * GiB - 1 * MiB, 1 * MiB, 0x03))
    image = make_qcow2_image("huge.qcow2", 64 * GiB, writes)
    with Qcow2DiskReader(image) as reader:
        started = time.monotonic()
        chunks = allocated_chunks(reader, 4 * MiB)
        assert time.monotonic() - started < 5
        assert chunks == [0, (17 * GiB) // (4 * MiB), (64 * GiB) // (4 * MiB) - 1]
        read_bytes = 0
        for index in chunks:
            data = reader.read(index * 4 * MiB, 4 * MiB)
            read_bytes += len(data)
            assert len(data.strip(b"\0")) == 1 * MiB
        assert read_bytes == 12 * MiB  # of 64 GiB


@needs_qemu
def test_qcow2_parallel_reads_use_a_bounded_pool(make_qcow2_image: Callable[..., Path]) -> None:
    writes: list[Write] = [(i * MiB, MiB, i) for i in range(1, 32)]
    image = make_qcow2_image("pool.qcow2", 32 * MiB, writes)
    expected = _model(32 * MiB, [writes])
    peak = 0
    with Qcow2DiskReader(image, max_handles=3) as reader:

        def read(offset: int) -> bytes:
            nonlocal peak
            data = reader.read(offset, 512 * KiB)
            peak = max(peak, len(_qemu_nbd_children()))
            return data

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(read, range(0, 32 * MiB, 512 * KiB)))
        assert b"".join(results) == expected
        assert 1 <= peak <= 3


@needs_qemu
def test_qcow2_recovers_from_a_dead_server(make_qcow2_image: Callable[..., Path]) -> None:
    image = make_qcow2_image("dies.qcow2", 4 * MiB, [(0, 4 * MiB, 0x66)])
    with Qcow2DiskReader(image, max_handles=1) as reader:
        for pid in _qemu_nbd_children():  # the reader's own qemu-nbd, started by this test
            os.kill(pid, 9)
        with pytest.raises(OSError, match=str(image)) as info:
            reader.read(0, 4096)
        assert isinstance(info.value.errno, int) and info.value.errno > 0
        assert reader.read(0, 4096) == b"\x66" * 4096  # a new connection replaced it


@needs_qemu
def test_qcow2_closes_on_exception_and_refuses_reads(make_qcow2_image: Callable[..., Path]) -> None:
    image = make_qcow2_image("exc.qcow2", 1 * MiB, [])
    with pytest.raises(RuntimeError), Qcow2DiskReader(image) as reader:
        assert _qemu_nbd_children()
        raise RuntimeError("boom")
    assert _qemu_nbd_children() == []
    with pytest.raises(ValueError, match="closed"):
        reader.read(0, 1)


@needs_qemu
@pytest.mark.parametrize("case", ["garbage", "raw", "missing-backing"])
def test_qcow2_that_qemu_cannot_open(
    tmp_path: Path, make_qcow2_image: Callable[..., Path], case: str
) -> None:
    image = tmp_path / f"{case}.qcow2"
    if case == "garbage":
        image.write_bytes(b"QFI\xfb" + b"junk" * 100)
    elif case == "raw":
        image.write_bytes(bytes(64 * KiB))
    else:
        base = make_qcow2_image("gone.qcow2", 1 * MiB, [])
        make_qcow2_image(image.name, 1 * MiB, [], backing=base)
        base.unlink()
    with pytest.raises(InvalidInputError) as info:
        open_disk(image, "qcow2")
    message = str(info.value)
    assert message.startswith(f"qcow2 image {image} cannot be opened: ") and "\n" not in message
    reason = {"garbage": "qcow2 version", "raw": "not in qcow2 format", "missing-backing": "gone"}
    assert reason[case] in message


@needs_qemu
def test_raw_format_forced_on_a_qcow2_reads_the_container(
    make_qcow2_image: Callable[..., Path],
) -> None:
    image = make_qcow2_image("container.qcow2", 1 * MiB, [(0, 4096, 0x01)])
    with open_disk(image, "raw") as reader:
        assert isinstance(reader, RawDiskReader)
        assert reader.read(0, 4) == b"QFI\xfb"
        assert reader.size == image.stat().st_size


def test_qcow2_without_libnbd_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = tmp_path / "any.qcow2"
    image.write_bytes(b"QFI\xfb" + bytes(508))
    monkeypatch.setitem(sys.modules, "nbd", None)  # makes ``import nbd`` raise ImportError
    with pytest.raises(VmvaultError, match="python3-libnbd") as info:
        open_disk(image)
    assert info.value.code == "DependencyMissing" and str(image) in str(info.value)


# -- chunk helpers ---------------------------------------------------------------------------

C = 4 * MiB
HINT_CASES = [
    # (hints as (offset, length), disk size, expected chunk indexes, why)
    ([], 10 * C, [], "no hints: nothing changed"),
    ([(100, 10)], 10 * C, [0], "inside the first chunk"),
    ([(C - 1, 2)], 10 * C, [0, 1], "two bytes across a boundary touch both chunks"),
    ([(C, C)], 10 * C, [1], "exactly one chunk"),
    ([(3 * C, 0)], 10 * C, [], "zero length touches nothing"),
    ([(5 * C, C), (C, 1), (5 * C + 7, 2 * C), (0, 1)], 10 * C, [0, 1, 5, 6, 7],
     "unsorted, overlapping"),
    ([(2 * C, 10 * C)], 2 * C + C // 2, [2], "runs past the end: clamped to the last chunk"),
    ([(20 * C, C)], 10 * C, [], "entirely past the end"),
    ([(-5, 10)], 10 * C, [0], "negative offset clamped to 0"),
    ([(0, 10 * C)], 10 * C, list(range(10)), "the whole disk"),
    ([(9 * C, C)], 10 * C, [9], "ends exactly at the disk's end"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("hints", "disk_size", "expected"),
    [case[:3] for case in HINT_CASES],
    ids=[case[3] for case in HINT_CASES],
)
def test_chunks_touched(hints: list[tuple[int, int]], disk_size: int, expected: list[int]) -> None:
    assert chunks_touched([Extent(o, n) for o, n in hints], C, disk_size) == expected


def test_chunks_touched_matches_brute_force() -> None:
    rng = random.Random(3)
    for _ in range(300):
        size, chunk = rng.randrange(0, 200), rng.randrange(1, 20)
        hints = [Extent(rng.randrange(-10, 220), rng.randrange(0, 60)) for _ in range(5)]
        naive = {byte // chunk for h in hints for byte in range(max(h.offset, 0), min(h.end, size))}
        assert chunks_touched(iter(hints), chunk, size) == sorted(naive)


def test_chunks_touched_rejects_bad_chunk_size() -> None:
    with pytest.raises(ValueError):
        chunks_touched([Extent(0, 1)], 0, 10)
