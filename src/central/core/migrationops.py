"""Migration operations of our own (migrations import them: keep them working forever).

``AlterFields``: several ``AlterField`` of one app applied as one operation. Django's
``AlterField`` re-renders the altered model, and for a relation (every model's
``organization``) every model related to it, after *each* field; the label migrations
(``*_field_labels_pt_br``: 309 fields whose ``verbose_name`` became pt-BR) re-rendered the
whole model graph about 300 times, half the CPU of a ``migrate`` from scratch (about 15 s:
every fresh install, ``central up`` on a new data directory, each test database). Here the
fields are altered in the migration state first and the models re-rendered once.

The database side is unchanged: each field goes through ``schema_editor.alter_field`` from
its state before the batch to its state after it (a label alone changes nothing in the
schema). So the batch may only alter each field once, and a relation keeps its target
(the models to re-render are found from the models before the batch).
"""

from __future__ import annotations

from django.db import migrations
from django.db.migrations.utils import field_is_referenced


def _target(field) -> str | None:
    remote = getattr(field, "remote_field", None)
    model = getattr(remote, "model", None)
    if model is None:
        return None
    return (model if isinstance(model, str) else model._meta.label).lower()


class AlterFields(migrations.operations.base.Operation):
    """``AlterFields([migrations.AlterField(...), ...])``: the same end state and schema
    as the ``AlterField`` operations one after the other, with one re-render."""

    reduces_to_sql = True
    reversible = True

    def __init__(self, operations: list[migrations.AlterField]) -> None:
        keys = [(op.model_name_lower, op.name_lower) for op in operations]
        if len(set(keys)) != len(keys):
            raise ValueError("AlterFields alters each field once")
        if not all(isinstance(op, migrations.AlterField) for op in operations):
            raise TypeError("AlterFields takes AlterField operations only")
        self.operations = list(operations)
        super().__init__()

    def deconstruct(self):
        return self.__class__.__qualname__, [self.operations], {}

    def state_forwards(self, app_label, state):
        models = set()
        relations = False
        for op in self.operations:
            old = state.models[app_label, op.model_name_lower].fields[op.name]
            if _target(old) != _target(op.field):
                raise ValueError(f"AlterFields: {op.model_name}.{op.name} changes its relation's target")
            relations = relations or old.is_relation
            models.add((app_label, op.model_name_lower))
        # Without the rendered apps ProjectState.alter_field() updates the model states and
        # skips its reload (reload_model() only re-renders an already rendered state).
        apps = state.__dict__.pop("apps", None)
        try:
            for op in self.operations:
                op.state_forwards(app_label, state)
        finally:
            if apps is not None:
                state.__dict__["apps"] = apps
        # Relations (and fields a foreign key points at) re-render their related models
        # too, as AlterField does for them (delay=False).
        referenced = any(
            field_is_referenced(state, (app_label, op.model_name_lower), (op.name, op.field))
            for op in self.operations)
        state.reload_models(sorted(models), delay=not (relations or referenced))

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        for op in self.operations:
            op.database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        for op in reversed(self.operations):
            op.database_backwards(app_label, schema_editor, from_state, to_state)

    def describe(self):
        return f"Alter {len(self.operations)} fields: " + ", ".join(
            f"{op.model_name}.{op.name}" for op in self.operations)

    @property
    def migration_name_fragment(self):
        return "alter_fields"
