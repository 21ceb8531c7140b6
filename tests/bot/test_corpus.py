"""The corpus pipeline in-process on the tiny real model: order, real batches, the audio bound."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from bot import analyze, corpus
from bot.app import inference
from bot.settings import EngineSettings, Settings
from tests.conftest import SAMPLES

CLIPS = ["03a02Wc.wav", "03a02Wc__telegram_voice.oga", "14a04Lb__flac.flac",
         "03a02Ta__mp3_128k_stereo.mp3"]


@pytest.fixture(scope="module")
def twelve(tmp_path_factory):
    folder = tmp_path_factory.mktemp("twelve")
    for i in range(12):
        name = CLIPS[i % len(CLIPS)]
        shutil.copy(SAMPLES / name, folder / f"{i:02d}_{name}")
    return sorted(folder.iterdir())


def settings_for(model_dir, **engine) -> Settings:
    return Settings(engine=EngineSettings(model=str(model_dir), **engine))


async def analyse(files, settings, model, options):
    seen = []
    async with inference(settings, model) as backend:
        timings = await corpus.run([analyze.Entry(f) for f in files], settings, backend, options,
                                   seen.append)
        stats = backend.stats()
    return seen, timings, stats


def test_concurrent_decodes_form_real_batches_and_results_come_in_input_order(
        twelve, tiny_model, tiny_model_dir):
    # a long max_wait: a batch closes when 8 clips are queued (or 5 s after its first)
    settings = settings_for(tiny_model_dir, max_batch_size=8, max_wait_ms=5000)
    options = corpus.Options(jobs=4, embedding=True)
    seen, timings, stats = asyncio.run(analyse(twelve, settings, tiny_model, options))
    assert twelve == [o.entry.path for o in seen]
    assert ["ok"] * 12 == [o.status for o in seen]
    assert {"ok": 12} == timings.counts
    assert 12 == sum(n * k for k, n in stats["batch_sizes"].items())
    assert max(stats["batch_sizes"]) >= 2, stats["batch_sizes"]
    assert 24.0 == pytest.approx(timings.audio_s, abs=0.2)  # twelve 2 s clips
    assert (32,) == corpus.embedding_of(seen[0]).shape


def test_a_clip_longer_than_the_audio_bound_still_goes_and_outputs_are_written(
        twelve, tiny_model, tiny_model_dir, tmp_path):
    settings = settings_for(tiny_model_dir)
    options = corpus.Options(jobs=2, folders=tmp_path / "out", max_pending_audio_s=1.0)
    seen, _, _ = asyncio.run(analyse(twelve[:3], settings, tiny_model, options))
    assert ["ok"] * 3 == [o.status for o in seen]
    folders = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert 3 == len(folders) and all(name.startswith("outputs_") for name in folders)
    assert {"processed_audio.wav", "result.json"} == {p.name for p in seen[0].out_dir.iterdir()}


def test_audio_budget_holds_a_caller_until_room_is_released():
    async def scenario():
        budget = corpus.AudioBudget(10.0)
        await budget.acquire(6.0)
        await budget.acquire(4.0)
        third = asyncio.create_task(budget.acquire(1.0))
        for _ in range(5):
            await asyncio.sleep(0)  # let it run as far as it can
        held = third.done()
        await budget.release(4.0)
        await asyncio.wait_for(third, 5)
        alone = corpus.AudioBudget(1.0)
        await asyncio.wait_for(alone.acquire(30.0), 5)  # longer than the bound, but alone
        return held, budget.used_s, alone.used_s

    assert (False, 7.0, 30.0) == asyncio.run(scenario())


def test_files_in_folders_that_are_not_recordings_are_skipped_named_ones_refused(
        tmp_path, tiny_model, tiny_model_dir):
    (tmp_path / "notes.txt").write_text("not audio")
    entries = [analyze.Entry(tmp_path / "notes.txt", in_folder=True),
               analyze.Entry(tmp_path / "notes.txt"),
               analyze.Entry(tmp_path / "gone.wav", missing=True)]
    settings = settings_for(tiny_model_dir)

    async def go():
        seen = []
        async with inference(settings, tiny_model) as backend:
            await corpus.run(entries, settings, backend, corpus.Options(jobs=2), seen.append)
        return [(o.status, o.code, o.error) for o in seen]

    assert [("skipped", "not audio", "not audio: the file has no audio stream"),
            ("refused", "not audio", "not audio: the file has no audio stream"),
            ("failed", "missing", "no such file or folder")] == asyncio.run(go())
