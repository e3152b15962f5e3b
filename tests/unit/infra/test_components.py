"""A missing stack component is named, with how to install it."""

from __future__ import annotations

import pytest

from emulator import components


def test_missing_java_is_named(monkeypatch):
    monkeypatch.setattr(components.shutil, "which", lambda name: None)
    with pytest.raises(components.MissingComponent, match="java is missing.*apt-get install"):
        components.find_components()


def test_missing_emulators_are_named(monkeypatch, tmp_path):
    monkeypatch.setattr(
        components.shutil, "which", lambda name: "/usr/bin/java" if name == "java" else None
    )
    monkeypatch.setattr(components, "_SDK_CANDIDATES", (str(tmp_path),))
    monkeypatch.delenv("CLOUDSDK_ROOT", raising=False)
    with pytest.raises(
        components.MissingComponent,
        match="Firestore emulator is missing.*gcloud components install",
    ):
        components.find_components()
    jar = tmp_path / "platform" / "cloud-firestore-emulator" / "cloud-firestore-emulator.jar"
    jar.parent.mkdir(parents=True)
    jar.touch()
    with pytest.raises(components.MissingComponent, match="Pub/Sub emulator is missing"):
        components.find_components()
    script = tmp_path / "platform" / "pubsub-emulator" / "bin" / "cloud-pubsub-emulator"
    script.parent.mkdir(parents=True)
    script.touch()
    found = components.find_components()
    assert found.firestore == jar and found.pubsub == script
    assert found.fake_gcs.exists()
