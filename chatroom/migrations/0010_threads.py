"""Threads (issue 16): a reply in a thread is a message with (thread_id,
thread_created_at), the root's composite key, and a real foreign key to it;
chat_threads holds each thread's summary, thread_follows each user's
following and read state. Every reference into the partitioned messages
table is by (id, created_at), enforced by PostgreSQL (as 0002 does for
replies, reactions and mentions). A root's replies, summary and follows go
with it if the row itself is ever removed (retention); deleting a message
is soft, so a deleted root keeps its thread."""

import django.contrib.postgres.fields
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


COMPOSITE_FKS = [
    ("messages", "messages_thread_fk", "thread_id, thread_created_at"),
    ("chat_threads", "chat_threads_root_fk", "root_id, root_created_at"),
    ("thread_follows", "thread_follows_root_fk", "root_id, root_created_at"),
]
FK_SQL = "\n".join(
    f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({columns}) "
    f"REFERENCES messages (id, created_at) ON DELETE CASCADE;"
    for table, name, columns in COMPOSITE_FKS
)
FK_REVERSE_SQL = "\n".join(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name};" for table, name, _ in COMPOSITE_FKS)


class Migration(migrations.Migration):

    dependencies = [
        ('chatroom', '0009_post_refuses_blocked'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Thread',
            fields=[
                ('root', models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, primary_key=True, related_name='+', serialize=False, to='chatroom.message')),
                ('root_created_at', models.DateTimeField()),
                ('reply_count', models.PositiveIntegerField(default=0)),
                ('last_reply_at', models.DateTimeField(blank=True, null=True)),
                ('participants', django.contrib.postgres.fields.ArrayField(base_field=models.UUIDField(), blank=True, default=list, size=None)),
            ],
            options={
                'db_table': 'chat_threads',
            },
        ),
        migrations.CreateModel(
            name='ThreadFollow',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('root_created_at', models.DateTimeField()),
                ('following', models.BooleanField(blank=True, null=True)),
                ('last_read_message_id', models.UUIDField(blank=True, null=True)),
                ('last_read_at', models.DateTimeField(blank=True, null=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'db_table': 'thread_follows',
            },
        ),
        migrations.AddField(
            model_name='message',
            name='also_to_room',
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.AddField(
            model_name='message',
            name='thread_created_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='message',
            name='thread_id',
            field=models.UUIDField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name='message',
            index=models.Index(condition=models.Q(('thread_id__isnull', False)), fields=['thread_id', 'created_at', 'id'], name='idx_messages_thread'),
        ),
        migrations.AddConstraint(
            model_name='message',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('also_to_room', False), ('thread_created_at__isnull', True), ('thread_id__isnull', True)), models.Q(('thread_created_at__isnull', False), ('thread_id__isnull', False)), _connector='OR'), name='messages_thread_pair_check'),
        ),
        migrations.AddField(
            model_name='thread',
            name='room',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='chatroom.room'),
        ),
        migrations.AddField(
            model_name='threadfollow',
            name='room',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='chatroom.room'),
        ),
        migrations.AddField(
            model_name='threadfollow',
            name='root',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='chatroom.message'),
        ),
        migrations.AddField(
            model_name='threadfollow',
            name='user',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddIndex(
            model_name='thread',
            index=models.Index(fields=['room', 'last_reply_at'], name='idx_chat_threads_room'),
        ),
        migrations.AddIndex(
            model_name='threadfollow',
            index=models.Index(fields=['root'], name='idx_thread_follows_root'),
        ),
        migrations.AddConstraint(
            model_name='threadfollow',
            constraint=models.UniqueConstraint(fields=('user', 'root'), name='thread_follows_unique'),
        ),
        migrations.RunSQL(FK_SQL, FK_REVERSE_SQL),
    ]
