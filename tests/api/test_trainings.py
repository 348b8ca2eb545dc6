"""POST/GET/DELETE /v1/trainings and the weights download."""

from __future__ import annotations

import io

import numpy as np

from tests.api.conftest import Service

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"
TINY = {
    "arch": ARCH,
    "task": "cifar10",
    "epochs": 1,
    "batch_size": 32,
    "C": 4,
    "N": 1,
    "resolution": 8,
    "train_images": 200,
}


def test_a_training_job_ends_with_downloadable_weights(service: Service) -> None:
    r = service.client.post("/v1/trainings", json=TINY, headers=service.auth)
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["location"] == job["location"] == f"/v1/trainings/{job['id']}"
    done = service.wait_job(job["id"], timeout=600)
    assert done["status"] == "succeeded", done
    t = service.client.get(job["location"], headers=service.auth).json()
    assert t["result"]["arch"] == ARCH and 0 <= t["result"]["test_acc"] <= 100 and t["progress"] == 1.0
    w = service.client.get(t["weights"], headers=service.auth)
    assert w.status_code == 200 and w.headers["content-type"] == "application/octet-stream"
    with np.load(io.BytesIO(w.content), allow_pickle=False) as z:
        assert "classifier.weight" in z.files
    p = service.client.get(t["weights"], params={"what": "provenance"}, headers=service.auth)
    assert p.status_code == 200 and p.json()["weights_sha256"] == t["result"]["weights_sha256"]


def test_bad_trainings_are_refused_before_any_job(service: Service) -> None:
    before = len(service.client.get("/v1/jobs", params={"kind": "train"}, headers=service.auth).json()["jobs"])
    cases = [
        ({**TINY, "arch": "|bad|"}, 422, "invalid architecture"),
        ({**TINY, "task": "mnist"}, 404, "mnist"),
        ({**TINY, "epochs": 0}, 422, "epochs"),
        ({**TINY, "epochs": 5000}, 422, "epochs"),
        ({**TINY, "learning": 1}, 422, "learning"),
    ]
    for body, status, text in cases:
        r = service.client.post("/v1/trainings", json=body, headers=service.auth)
        assert r.status_code == status and text in r.json()["error"]["message"], r.text
    after = len(service.client.get("/v1/jobs", params={"kind": "train"}, headers=service.auth).json()["jobs"])
    assert after == before
    r = service.client.get("/v1/trainings/nope", headers=service.auth)
    assert r.status_code == 404
