"""Findings of an attack on a running service (issue 25), replayed: each is refused or contained now.

Covered here: tasks and supernets belong to the key that made them (another key neither sees nor uses them, and
may use the same name); a task name is never a benchmark task's; quotas and DELETE; service artifacts cannot be
taken over by a user-picked id; upload bombs (huge images, folder entries, the wrong formats, unreadable
archives) fail by name and leave nothing on disk; ids are checked before a job exists. (The fair queue: ``tests/jobs/test_scheduling.py``; upload clean-up: ``tests/services/test_jobs.py``.)
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from threading import current_thread

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from archgen.api import create_app
from archgen.api.keys import KeyStore
from archgen.context import workspace
from archgen.services.generate import GENERATOR_EPOCHS, GENERATOR_SEED, generator_id
from tests.api.conftest import NB201_ARCH, Service, service_settings
from tests.tasks.folders import image_folder

TINY_SUPERNET = {"minutes": 0.05, "epochs": 1, "batch_size": 8, "C": 4, "N": 1, "resolution": 8,
                 "calib_batches": 1, "eval_images": 20}  # fmt: skip


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, cache_dir: Path) -> Iterator[Service]:
    settings = service_settings(tmp_path_factory.mktemp("tenancy"), data_dir, cache_dir, default_models=(),
                                task_max_images=300, task_max_decoded_bytes=1_000_000,
                                task_max_image_pixels=1_000_000, key_max_tasks=2)  # fmt: skip
    _, key = KeyStore(settings.db_url).create("tests")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield Service(client, settings, key)


@pytest.fixture(scope="module")
def other(service: Service) -> Service:
    """A second key of the same service."""
    _, key = KeyStore(service.settings.db_url).create("other")
    return Service(service.client, service.settings, key)


def test_a_keys_tasks_and_supernets_are_its_own(
    service: Service, other: Service, pngs: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 2: every key listed every task, trained supernets on others' tasks, and the newest supernet of a
    task served its predictions for everyone."""
    a, b = service, other
    assert _upload(a, "pets", _zip(pngs))["status"] == "succeeded"
    r = a.client.post("/v1/supernets", json={"task": "pets", **TINY_SUPERNET}, headers=a.auth)
    assert r.status_code == 202, r.text
    assert a.wait_job(r.json()["id"])["status"] == "succeeded"
    arch = {"task": "pets", "architectures": [17]}
    by_supernet = arch | {"predictor": "supernet"}  # the default is the task's prior (the supernet one source)
    from archgen.api.routes import predict as route

    threads: list[str] = []
    real = route.supernet_predictions
    monkeypatch.setattr(
        route, "supernet_predictions", lambda *a, **k: threads.append(current_thread().name) or real(*a, **k)
    )
    assert a.client.post("/v1/predict", json=by_supernet, headers=a.auth).status_code == 200
    assert threads and threads[0].startswith("archgen-supernet")  # finding 8: not the pool other requests need
    (sid,) = [s["id"] for s in a.client.get("/v1/supernets", headers=a.auth).json()["supernets"]]
    owner = KeyStore(a.settings.db_url).verify(a.key)
    assert owner is not None
    weights = workspace(a.settings.paths).for_owner(owner.id).owned.root / sid / "arrays.npz"
    good = weights.read_bytes()
    weights.write_bytes(good[:-9] + bytes(9))  # finding 8: a corrupted supernet was still served, not listed
    r = a.client.post("/v1/predict", json=by_supernet, headers=a.auth)
    assert r.status_code == 409 and "corrupt" in r.text and str(a.settings.paths.home) not in r.text, r.text
    assert sid in a.client.get("/v1/supernets", headers=a.auth).json()["broken"]
    r = a.client.post("/v1/predict", json=arch, headers=a.auth)  # the prior reads it too: the same answer
    assert r.status_code == 409 and "corrupt" in r.text and str(a.settings.paths.home) not in r.text, r.text
    weights.write_bytes(good)

    assert b.client.get("/v1/tasks", headers=b.auth).json()["tasks"] == []
    for method, url, body in [
        ("GET", "/v1/tasks/pets", None),
        ("POST", "/v1/predict", arch),
        ("POST", "/v1/zero-cost", arch | {"proxies": ["nwot"]}),
        ("POST", "/v1/supernets", {"task": "pets", **TINY_SUPERNET}),
        ("POST", "/v1/trainings", {"arch": NB201_ARCH, "task": "pets", "epochs": 1}),
        ("POST", "/v1/generate", {"task": "pets", "guide_by": "supernet"}),
        ("POST", "/v1/searches", {"task": "pets", "strategy": "random", "budget": 4}),
        ("DELETE", "/v1/tasks/pets", None),
    ]:
        r = b.client.request(method, url, json=body, headers=b.auth)
        assert r.status_code == 404 and "pets" in r.text, (url, r.status_code, r.text)
    assert b.client.get("/v1/supernets", headers=b.auth).json()["supernets"] == []

    assert _upload(b, "pets", _zip(pngs))["status"] == "succeeded"  # the same name: b's own task
    r = b.client.post("/v1/predict", json=by_supernet, headers=b.auth)
    assert r.status_code == 409 and "no trained supernet" in r.text  # a's supernet is not b's
    r = b.client.post("/v1/predict", json=arch, headers=b.auth)  # b's prior reads no supernet of a's
    assert r.status_code == 200 and "supernet:" not in r.json()["target"]["description"]
    r = b.client.delete("/v1/tasks/pets", headers=b.auth)
    assert r.status_code == 200 and r.json()["usage"]["tasks"] == 0
    assert [t["name"] for t in a.client.get("/v1/tasks", headers=a.auth).json()["tasks"]] == ["pets"]


def test_a_task_name_is_never_a_benchmark_tasks_and_the_quota_holds(service: Service, pngs: dict[str, bytes]) -> None:
    """Finding 2: a user task named ``cora`` broke NAS-Bench-Graph's ``cora`` for other keys."""
    c, h = service.client, service.auth
    for name in ("cora", "imagenet16-120", "cifar100"):
        r = c.post(f"/v1/tasks?name={name}", content=_zip(pngs), headers=h)
        assert r.status_code == 422 and ("benchmark task" in r.text or "built-in" in r.text), r.text
    names = [t["name"] for t in c.get("/v1/tasks", headers=h).json()["tasks"]]
    for i in range(service.settings.key_max_tasks - len(names)):
        assert _upload(service, f"fill-{i}", _zip(pngs))["status"] == "succeeded"
    r = c.post("/v1/tasks?name=one-more", content=_zip(pngs), headers=h)
    assert r.status_code == 413 and "ARCHGEN_KEY_MAX_TASKS" in r.text
    for i in range(service.settings.key_max_tasks - len(names)):
        assert c.delete(f"/v1/tasks/fill-{i}", headers=h).status_code == 200


def test_a_user_picked_id_cannot_take_a_service_artifacts_place(service: Service) -> None:
    """Finding 1: a supernet stored under the generator's (predictable) id broke generation for every key."""
    c, h = service.client, service.auth
    gid = generator_id("nb201", GENERATOR_EPOCHS, GENERATOR_SEED)
    r = c.post("/v1/supernets", json={"task": "cifar10-valid", "model_id": gid, **TINY_SUPERNET}, headers=h)
    assert r.status_code == 202, r.text
    assert service.wait_job(r.json()["id"])["status"] == "succeeded"
    data = workspace(service.settings.paths)
    assert gid not in data.models.ids()  # the service's store: the generator's id is still free
    owner = KeyStore(service.settings.db_url).verify(service.key)
    assert owner is not None and gid in data.for_owner(owner.id).owned.ids()  # the key's own store
    r = c.post("/v1/supernets", json={"task": "cifar10-valid", "model_id": gid, **TINY_SUPERNET}, headers=h)
    assert r.status_code == 409 and "already" in r.text  # before a job exists, not after a training
    for bad in ("..", "-lead", ".hidden", "a/b", "x" * 129):  # finding 7: accepted, then failed after training
        r = c.post("/v1/supernets", json={"task": "cifar10-valid", "model_id": bad, **TINY_SUPERNET}, headers=h)
        assert r.status_code == 422 and "model_id" in r.text, (bad, r.text)


def _upload(service: Service, name: str, data: bytes) -> dict:
    r = service.client.post(f"/v1/tasks?name={name}", content=data, headers=service.auth)
    assert r.status_code == 202, r.text
    return service.wait_job(r.json()["id"])


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def _image(fmt: str, size: tuple[int, int] = (8, 8)) -> bytes:
    buf = io.BytesIO()
    Image.new("L" if fmt == "PNG" else "RGB", size).save(buf, format=fmt)
    return buf.getvalue()


@pytest.fixture(scope="module")
def pngs(ws, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """A valid two-class folder's files, to which each test adds one bad member."""
    root = image_folder(ws, tmp_path_factory.mktemp("tenancy-folder") / "pets", ("cat", "dog"), per_class=10)
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.png"))}


@pytest.mark.parametrize(
    ("member", "words"),
    [
        # finding 3: 20 PNGs of 13000x13000 took 84 s and 1.1 GB (here: a bound of 1 M pixels, a 1100x1100 PNG)
        (lambda: _image("PNG", (1100, 1100)), "1100x1100 pixels"),
        (lambda: _image("GIF"), "not a JPEG or PNG"),  # finding 5
        (lambda: _image("TIFF"), "not a JPEG or PNG"),
        (lambda: b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\nshowpage\n", "not a JPEG or PNG"),  # no Ghostscript
    ],
)
def test_an_image_bomb_or_a_foreign_format_fails_by_name_and_leaves_nothing(
    service: Service, pngs: dict[str, bytes], member, words: str
) -> None:
    job = _upload(service, "bomb", _zip(pngs | {"dog/odd.png": member()}))
    assert job["status"] == "failed" and words in job["error"], job
    assert not list(service.settings.paths.upload_dir.glob("*"))
    assert not (service.settings.paths.job_dir / job["id"]).exists()  # finding 4: failed jobs kept their files
    assert "bomb" not in [t["name"] for t in service.client.get("/v1/tasks", headers=service.auth).json()["tasks"]]


def test_decoded_bytes_are_bounded_before_decoding(service: Service, pngs: dict[str, bytes]) -> None:
    """Finding 3: 5,000 2x2 PNGs at image_size 256 became a 983 MB array; the bound is checked from the count."""
    many = pngs | {f"cat/{i}.png": _image("PNG", (2, 2)) for i in range(200)}
    r = service.client.post("/v1/tasks?name=wide&image_size=256", content=_zip(many), headers=service.auth)
    job = service.wait_job(r.json()["id"])
    assert job["status"] == "failed" and "220 images at image_size 256 decode to 43,253,760 bytes" in job["error"]


def test_folder_entries_count_and_unreadable_archives_are_named(service: Service) -> None:
    """Finding 3 (1,000,000 directory entries accepted) and 8 (corrupt .tar.xz, deflate64, encrypted zips were
    internal errors; a corrupt .tar.gz a folder-structure error)."""
    limit = service.settings.task_max_images + 1000
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for i in range(limit + 1):
            info = tarfile.TarInfo(f"d{i}")
            info.type = tarfile.DIRTYPE
            t.addfile(info)
    job = _upload(service, "dirs", buf.getvalue())
    assert job["status"] == "failed" and "members" in job["error"], job
    xz = io.BytesIO()
    with tarfile.open(fileobj=xz, mode="w:xz") as t:
        data = _image("PNG")
        info = tarfile.TarInfo("cat/1.png")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    job = _upload(service, "xz", xz.getvalue()[:-20])
    assert job["status"] == "failed" and "corrupt or truncated" in job["error"], job
    job = _upload(service, "one", _zip({"cat/1.png": _image("PNG")}))  # finding 8: errors disclosed server paths
    assert job["status"] == "failed" and "the archive needs at least two class folders" in job["error"], job
    assert str(service.settings.paths.home) not in str(job)
    assert not list(service.settings.paths.upload_dir.glob("*"))


@pytest.mark.parametrize(
    ("url", "body", "words"),
    [  # finding 7: accepted (202), then failed as "internal error" allocating 8 GiB / 2 GiB
        ("/v1/trainings", {"arch": NB201_ARCH, "task": "cifar10", "batch_size": 4096, "C": 128, "N": 10,
                           "resolution": 64, "train_images": 4096}, "batch_size 4096, C 128, N 10 and resolution 64"),
        ("/v1/supernets", {"task": "cifar10", "batch_size": 2048, "C": 64, "N": 5, "resolution": 64,
                           "eval_images": 100_000}, "eval_images 100000"),
        ("/v1/trainings", {"arch": NB201_ARCH, "task": "cifar10", "batch_size": 512, "train_images": 100},
         "larger than the 100 training images"),
    ],
)  # fmt: skip
def test_a_request_over_the_memory_bound_is_refused_before_a_job_exists(
    service: Service, url: str, body: dict, words: str
) -> None:
    c, h = service.client, service.auth
    before = len(c.get("/v1/jobs", headers=h).json()["jobs"])
    r = c.post(url, json=body, headers=h)
    assert r.status_code == 422 and words in r.text, r.text
    if "GiB" in r.text:
        assert "ARCHGEN_JOB_MAX_MEMORY_BYTES" in r.text
    assert len(c.get("/v1/jobs", headers=h).json()["jobs"]) == before
