"""central.core.migrationops.AlterFields: the label migrations' fields altered as one
operation. Before, each of their 309 ``AlterField`` re-rendered the altered model and, for
an ``organization`` foreign key, every model related to it: a ``migrate`` from scratch
took about 15 s of CPU (fresh installs, ``central up`` on a new data directory, every test
database), half of it there; now about 8 s, with the same schema."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import migrations, models
from django.db.migrations.state import ModelState, ProjectState

from central.core.migrationops import AlterFields


def _rendered_state() -> ProjectState:
    """Three models around one owner, rendered as they are during ``migrate``."""
    state = ProjectState()
    state.add_model(ModelState("shop", "owner", [("id", models.AutoField(primary_key=True)),
                                                  ("name", models.CharField(max_length=10))]))
    for name in ("item", "order"):
        state.add_model(ModelState("shop", name, [
            ("id", models.AutoField(primary_key=True)),
            ("owner", models.ForeignKey("shop.owner", models.CASCADE)),
            ("title", models.CharField(max_length=10)),
        ]))
    assert state.apps  # rendered
    return state


def _labels() -> list[migrations.AlterField]:
    return [
        migrations.AlterField("item", "owner", models.ForeignKey("shop.owner", models.CASCADE, verbose_name="dono")),
        migrations.AlterField("item", "title", models.CharField(max_length=10, verbose_name="título")),
        migrations.AlterField("order", "owner", models.ForeignKey("shop.owner", models.CASCADE, verbose_name="dono")),
        migrations.AlterField("owner", "name", models.CharField(max_length=10, verbose_name="nome")),
    ]


def _count_renders(monkeypatch) -> list[int]:
    renders = [0]
    reload = ProjectState._reload

    def counting(self, related_models):
        renders[0] += 1
        return reload(self, related_models)

    monkeypatch.setattr(ProjectState, "_reload", counting)
    return renders


@pytest.mark.backend_free
def test_same_state_as_the_fields_one_by_one_with_one_render(monkeypatch):
    one_by_one, batched = _rendered_state(), _rendered_state()
    renders = _count_renders(monkeypatch)
    for op in _labels():
        op.state_forwards("shop", one_by_one)
    assert renders[0] == 4  # AlterField: one re-render per field
    renders[0] = 0
    AlterFields(_labels()).state_forwards("shop", batched)
    assert renders[0] == 1

    assert batched.models == one_by_one.models
    item = batched.apps.get_model("shop", "item")
    owner = batched.apps.get_model("shop", "owner")
    assert item._meta.get_field("title").verbose_name == "título"
    assert item._meta.get_field("owner").verbose_name == "dono"
    # The relations point at the owner model of the re-rendered registry, as after AlterField.
    assert item._meta.get_field("owner").related_model is owner
    assert {r.related_model for r in owner._meta.related_objects} == {
        item, batched.apps.get_model("shop", "order")}


@pytest.mark.backend_free
def test_refuses_what_one_render_cannot_do():
    with pytest.raises(ValueError, match="once"):
        AlterFields([migrations.AlterField("item", "title", models.CharField(max_length=10)),
                     migrations.AlterField("item", "title", models.CharField(max_length=20))])
    state = _rendered_state()
    state.add_model(ModelState("shop", "shop", [("id", models.AutoField(primary_key=True))]))
    moved = AlterFields([migrations.AlterField("item", "owner", models.ForeignKey("shop.shop", models.CASCADE))])
    with pytest.raises(ValueError, match="target"):
        moved.state_forwards("shop", state)


@pytest.mark.django_db
def test_the_migrations_describe_the_models():
    """What guarantees the batched label migrations end where the models are: no change
    left for makemigrations (exit 1 with --check otherwise)."""
    call_command("makemigrations", check=True, dry_run=True, verbosity=0)
