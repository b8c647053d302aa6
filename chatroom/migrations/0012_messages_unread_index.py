"""The unread counts' covering index (chatroom.unread), and autovacuum after
every 2% of new rows on the messages partitions that exist (new ones get it
from core.partitions; chatroom.apps.MESSAGE_PARTITION_STORAGE), so the
newest messages' pages are soon all-visible and the counts stay index-only.

On a large table, CREATE INDEX holds writes to messages while it builds (a
few minutes at 10M rows): run it in a quiet hour."""

from django.conf import settings
from django.db import migrations, models

PARTITIONS = """
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'messages'::regclass
"""


def set_storage(value):
    def run(apps, schema_editor):
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(PARTITIONS)
            qn = schema_editor.connection.ops.quote_name
            for (name,) in cursor.fetchall():
                if value is None:
                    cursor.execute(f"ALTER TABLE {qn(name)} RESET (autovacuum_vacuum_insert_scale_factor)")
                else:
                    cursor.execute(f"ALTER TABLE {qn(name)} SET (autovacuum_vacuum_insert_scale_factor = {value})")
    return run


class Migration(migrations.Migration):

    dependencies = [
        ('chatroom', '0011_post_into_threads'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='message',
            index=models.Index(condition=models.Q(('is_deleted', False), models.Q(('message_type', 'system'), _negated=True), models.Q(('thread_id__isnull', True), ('also_to_room', True), _connector='OR')), fields=['room', 'created_at', 'id'], include=('user',), name='idx_messages_room_unread'),
        ),
        migrations.RunPython(set_storage("0.02"), set_storage(None)),
    ]
