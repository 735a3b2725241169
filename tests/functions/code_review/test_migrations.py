"""Schema changes read from migrations as code (migrations.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[3] / "functions" / "code_review"))
import migrations

ALL = set(range(1, 200))


def rows(path, source, added=ALL, old_field=None):
    return [(b.line, b.kind, b.symbol) for b in migrations.changes(path, source, added, old_field)]


def test_alembic_upgrade_only_multiline_batch_and_constants():
    src = (
        "from alembic import op\n"  # 1
        "T = 'users'\n"
        "def upgrade():\n"
        "    with op.batch_alter_table('dbs') as batch_op:\n"
        "        batch_op.drop_column('allow_run_sync')\n"  # 5
        "    op.alter_column(\n"
        "        T,\n"
        "        'name',\n"
        "        new_column_name='full_name',\n"
        "    )\n"  # 10
        "    op.rename_table('old_t', 'new_t')\n"
        "    op.drop_table(table_name='sessions')\n"
        "    op.drop_column('orders', 'discount')\n"
        "    op.alter_column('orders', 'note', nullable=False)\n"
        "    op.alter_column('orders', 'total', existing_nullable=False, nullable=False)\n"  # 15
        "    op.execute('ALTER TABLE a DROP COLUMN b; DROP TABLE IF EXISTS x')\n"
        "    op.add_column('users', sa.Column('age', sa.Integer()))\n"
        "def downgrade():\n"
        "    op.drop_table('never_counted')\n"
    )
    assert rows("alembic/versions/1_x.py", src) == [
        (5, "column-dropped", "dbs.allow_run_sync"),
        (6, "column-renamed", "users.name"),
        (11, "table-renamed", "old_t"),
        (12, "table-dropped", "sessions"),
        (13, "column-dropped", "orders.discount"),
        (14, "column-narrowed", "orders.note"),
        (16, "column-dropped", "a.b"),
        (16, "table-dropped", "x"),
    ]
    # only operations on added lines count (here: the multi-line alter_column's last lines)
    assert rows("alembic/versions/1_x.py", src, {9}) == [(6, "column-renamed", "users.name")]


def test_django_operations_over_several_lines():
    src = """from django.db import migrations, models

class Migration(migrations.Migration):
    operations = [
        migrations.RemoveField(
            model_name='category',
            name='original_name',
        ),
        migrations.DeleteModel(name='Student'),
        migrations.RenameField('teacher', 'mail', 'email'),
        migrations.RenameModel(old_name='Room', new_name='Classroom'),
        migrations.AlterField(model_name='order', name='code', field=models.CharField(max_length=9)
        ),
        migrations.AlterField(model_name='order', name='memo', field=models.TextField()),
        migrations.RunSQL(sql=["DROP VIEW v_orders;"], reverse_sql="CREATE VIEW v_orders"),
        migrations.AddField(model_name='order', name='x', field=models.IntegerField(null=True)),
    ]
"""
    old = {
        ("order", "code"): ("CharField", {"max_length": 40}),
        ("order", "memo"): ("TextField", {}),
    }
    assert rows("app/migrations/0002_x.py", src, old_field=lambda m, f: old.get((m, f))) == [
        (5, "column-dropped", "category.original_name"),
        (9, "table-dropped", "Student"),
        (10, "column-renamed", "teacher.mail"),
        (11, "table-renamed", "Room"),
        (12, "column-narrowed", "order.code"),
        (15, "view-dropped", "v_orders"),
    ]
    # with no old definition to compare with, an AlterField is not judged
    assert all(k != "column-narrowed" for _l, k, _s in rows("app/migrations/0002_x.py", src))


@pytest.mark.parametrize(
    ("old", "new", "why"),
    [
        (("CharField", {"max_length": 40}), ("CharField", {"max_length": 10}), "max_length"),
        (("TextField", {"null": True}), ("TextField", {}), "NULL"),
        (("TextField", {}), ("IntegerField", {}), "type"),
        (("DecimalField", {"max_digits": 10}), ("DecimalField", {"max_digits": 8}), "max_digits"),
        (("CharField", {"max_length": 40}), ("CharField", {"max_length": 80}), None),
        (("CharField", {}), ("TextField", {}), None),
        (("IntegerField", {}), ("BigIntegerField", {}), None),
    ],
)
def test_what_narrows_a_django_field(old, new, why):
    got = migrations.narrows(old, new)
    assert (got is None) if why is None else (why in got)


def test_sql_by_statement():
    sql = """-- +goose Up
/* old stuff */ ALTER TABLE "orders" DROP COLUMN discount, ADD COLUMN promo int;
ALTER TABLE users RENAME COLUMN nick TO handle; ALTER TABLE t ALTER COLUMN x DROP DEFAULT;
-- DROP TABLE in a comment;
DROP TABLE IF EXISTS a, `b`;
ALTER TABLE accounts RENAME TO users_accounts;
RENAME TABLE x TO y;
ALTER TABLE users ALTER COLUMN email SET NOT NULL;
ALTER TABLE t DROP CONSTRAINT fk_1;
DROP INDEX users_email;
INSERT INTO log VALUES ('DROP TABLE users; ALTER TABLE users DROP COLUMN id');
-- +goose Down
DROP TABLE orders;
"""
    assert rows("db/migrations/2.sql", sql) == [
        (2, "column-dropped", "orders.discount"),
        (3, "column-renamed", "users.nick"),
        (5, "table-dropped", "a"),
        (5, "table-dropped", "b"),
        (6, "table-renamed", "accounts"),
        (7, "table-renamed", "x"),
        (8, "column-narrowed", "users.email"),
    ]
    assert rows("db/migrations/2.sql", sql, {3}) == [(3, "column-renamed", "users.nick")]
    assert rows("migrations/0002_x.down.sql", "DROP TABLE users;") == []
    dbmate = "-- migrate:up\nSELECT 1;\n-- migrate:down\nDROP TABLE t;"
    assert rows("db/migrate/3.sql", dbmate) == []


def test_a_statement_over_several_lines_and_a_broken_migration():
    assert rows("m/1.sql", "ALTER TABLE\n  users\n  DROP COLUMN\n  nick;\n", {4}) == [
        (1, "column-dropped", "users.nick")
    ]
    with pytest.raises(SyntaxError):
        migrations.changes("migrations/0003.py", "def upgrade(:\n", ALL)


def test_migration_paths():
    assert migrations.is_migration("db/migrate/20240101_drop.rb")
    assert migrations.is_migration("alembic/versions/abc.py")
    assert migrations.is_migration("x/y.sql")
    assert not migrations.is_migration("app/models.py")


def test_old_field_definitions_from_models():
    models = "class Profile(models.Model):\n    handle = models.CharField(max_length=150)\n"
    assert migrations.model_field(models, "profile", "handle") == (
        "CharField",
        {"max_length": 150},
    )
    assert migrations.model_field(models, "profile", "other") is None
    assert migrations.model_field("def broken(:", "profile", "handle") is None
