"""Artifacts in a real S3-compatible store (SeaweedFS): fine-tune outputs with their
checksums, uploaded datasets and CSV exports, through Django's default storage."""

import csv
import io
import os
import subprocess
import sys
import uuid

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import Role
from dashboards import services as dashboard_services
from dashboards.models import ExportJob, ExportStatus
from tests.dashboards.factories import attempt, make_course, team_with
from tests.factories import make_user
from training import runner as training_runner
from training import selectors as training_selectors
from training import services as training_services
from training.artifacts import MANIFEST, ArtifactError, ensure_local_model, parse, upload_dir
from training.models import FineTuneJob


def unique(name: str) -> str:
    """A folder of its own in the store, which the whole session shares."""
    return f"tests/{uuid.uuid4().hex[:8]}/{name}"


def keys(store, prefix: str) -> set[str]:
    listed = store.client().list_objects_v2(Bucket=store.bucket, Prefix=prefix).get("Contents", [])
    return {o["Key"] for o in listed}


@pytest.fixture
def model_dir(tmp_path):
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    (out / "adapter_config.json").write_text('{"r": 8}')
    (out / "sub" / "weights.bin").write_bytes(os.urandom(300_000))
    return out


def same_files(a, b) -> bool:
    files = sorted(p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file())
    return files == sorted(p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file() and p.name != MANIFEST) \
        and all((a / f).read_bytes() == (b / f).read_bytes() for f in files)


def test_an_output_folder_goes_to_the_store_and_comes_back_verified(s3_storage, model_dir, tmp_path):
    ref = upload_dir(model_dir, folder=unique("model"))
    folder, digest = parse(ref)
    assert keys(s3_storage, folder) == {f"{folder}/adapter_config.json", f"{folder}/sub/weights.bin",
                                        f"{folder}/{MANIFEST}"}
    local = ensure_local_model(ref, cache_dir=tmp_path / "cache")
    assert local == tmp_path / "cache" / digest and same_files(model_dir, local)

    # The cache answers from now on: the store is not asked again.
    s3_storage.client().delete_object(Bucket=s3_storage.bucket, Key=f"{folder}/sub/weights.bin")
    assert ensure_local_model(ref, cache_dir=tmp_path / "cache") == local
    # ...but another host's empty cache finds the object gone and says so.
    with pytest.raises(ArtifactError, match="has no"):
        ensure_local_model(ref, cache_dir=tmp_path / "other-host")


def test_a_changed_object_or_manifest_is_refused_and_leaves_nothing_in_the_cache(s3_storage, model_dir, tmp_path):
    ref = upload_dir(model_dir, folder=unique("model"))
    folder, digest = parse(ref)
    s3_storage.client().put_object(Bucket=s3_storage.bucket, Key=f"{folder}/sub/weights.bin", Body=b"tampered")
    with pytest.raises(ArtifactError, match="does not match its sha256"):
        ensure_local_model(ref, cache_dir=tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []  # no partial copy left to be mistaken for a good one
    with pytest.raises(ArtifactError, match=f"{MANIFEST} does not match"):
        ensure_local_model(ref.replace(digest, "0" * 64), cache_dir=tmp_path / "cache")


def test_the_cache_keeps_to_its_size_by_dropping_the_least_recently_used_copy(s3_storage, model_dir, tmp_path,
                                                                               settings):
    settings.LLM_MODEL_CACHE_MAX_MB = 2  # room for two 0.7 MB copies, not three
    (model_dir / "big.bin").write_bytes(os.urandom(400_000))
    refs = []
    for n in range(3):
        (model_dir / "n.txt").write_text(str(n))
        refs.append(upload_dir(model_dir, folder=unique(f"model-{n}")))
    cache = tmp_path / "cache"
    first = ensure_local_model(refs[0], cache_dir=cache)
    ensure_local_model(refs[1], cache_dir=cache)
    assert ensure_local_model(refs[0], cache_dir=cache) == first  # used again: now the second is the oldest
    third = ensure_local_model(refs[2], cache_dir=cache)
    assert sorted(cache.iterdir()) == sorted([first, third])


def test_a_plain_folder_is_not_fetched(tmp_path):
    assert ensure_local_model(str(tmp_path)) == tmp_path


@pytest.mark.django_db
def test_an_uploaded_dataset_lives_in_the_store_and_the_job_reads_it_from_there(s3_storage, registered_models):
    user = make_user(Role.EMPLOYEE)
    data = b'{"prompt": "Hi", "response": "Hello"}\n' * 10
    dataset = training_services.dataset_upload(
        user=user, uploaded_file=SimpleUploadedFile("faq.jsonl", data), kind="causal_lm")
    assert dataset.file.name in keys(s3_storage, "training/datasets/")
    job = FineTuneJob(user=user, kind="causal_lm", dataset=dataset)
    assert len(training_selectors.job_rows(job).rows) == 10


@pytest.mark.django_db
def test_a_background_export_is_stored_and_downloads_only_for_its_requester(s3_storage, client):
    course = make_course(lessons=1)
    team, manager, people = team_with(2)
    for i, person in enumerate(people):
        attempt(person, course.lessons.first().quiz, score=60 + i)
    job = ExportJob.objects.create(requested_by=manager, kind="attempts", params={"team": team.pk})
    job = dashboard_services.export_job_run(job_id=job.pk)
    assert job.status == ExportStatus.DONE, job.error
    assert job.file_path in keys(s3_storage, "exports/")

    client.force_login(manager)
    response = client.get(reverse("dashboards:export_download", args=[job.pk]))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert {r["username"] for r in rows} == {p.username for p in people} and job.row_count == 2
    client.force_login(make_user(Role.MANAGER, team=team))
    assert client.get(reverse("dashboards:export_download", args=[job.pk])).status_code == 404
    s3_storage.client().delete_object(Bucket=s3_storage.bucket, Key=job.file_path)
    client.force_login(manager)
    assert client.get(reverse("dashboards:export_download", args=[job.pk])).status_code == 404


def test_llm_s3_variables_switch_the_default_storage_to_s3(object_store):
    env = {**{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}, **object_store.env(),
           "DJANGO_SETTINGS_MODULE": "config.settings.base"}
    code = ("from django.core.files.base import ContentFile; from django.core.files.storage import storages;"
            "s = storages['default']; print(type(s).__name__, s.bucket_name); s.save('probe/hello.txt', ContentFile(b'hi'))")
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=settings.BASE_DIR, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.stdout.split()[-2:] == ["S3Storage", object_store.bucket], result.stderr
    assert "probe/hello.txt" in keys(object_store, "probe/")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
async def test_a_model_worker_refuses_a_stored_fine_tune_that_was_changed(s3_storage, model_worker, model_dir, settings,
                                                                         tmp_path):
    from asgiref.sync import sync_to_async

    from playground.services import model_register_finetune
    from tests.playground.helpers import MODEL, collect, connect, login_cookie

    settings.LLM_MODEL_CACHE_DIR = tmp_path / "cache"
    ref = await sync_to_async(upload_dir)(model_dir, folder=unique("model"))
    cookie, owner = await login_cookie()
    await sync_to_async(model_register_finetune)(owner=owner, name="changed-lora", display_name="Changed",
                                                 base_name=MODEL, adapter_path=ref)
    folder, _ = parse(ref)
    s3_storage.client().put_object(Bucket=s3_storage.bucket, Key=f"{folder}/sub/weights.bin", Body=b"tampered")

    comm = await connect(cookie)
    await comm.send_json_to({"type": "start", "model": "changed-lora", "mode": "completion", "prompt": "Hi",
                             "params": {"max_new_tokens": 2}})
    _, tokens, error = await collect(comm, timeout=60)
    assert error["type"] == "error" and error["code"] == "model_changed" and not tokens, error
    assert "sha256" in error["message"] and "changed-lora" not in model_worker.engines
    assert list((tmp_path / "cache").iterdir()) == []
    await comm.disconnect()


def test_an_output_the_store_refuses_fails_the_attempt_and_stays_on_disk(object_store, model_dir, settings):
    from tests.processes import free_port

    unreachable = {**object_store.storage_setting()}
    unreachable["OPTIONS"] = {**unreachable["OPTIONS"], "endpoint_url": f"http://127.0.0.1:{free_port()}"}
    settings.STORAGES = {**settings.STORAGES, "default": unreachable}
    ref, reason = training_runner.job_output_store(job=FineTuneJob(pk=10**6), attempt=1, local_dir=model_dir,
                                                     heartbeat=lambda: None)
    assert ref == "" and reason.startswith("Could not store the output in the object store")
    assert (model_dir / "adapter_config.json").is_file()  # kept for a look, not lost
