"""Cheaper message inserts.

- Drop the single-column indexes on messages.room_id and messages.user_id:
  the composite (room_id, created_at, id) and (user_id, created_at) indexes
  serve the same lookups.
- Make the client-id row's composite foreign key into messages deferred to
  commit, so message_post can claim (user, client_id) first, with INSERT ...
  ON CONFLICT DO NOTHING, before the message row exists: a resend is then
  found without a savepoint.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('chatroom', '0003_invite_invitee'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE message_client_ids ALTER CONSTRAINT message_client_ids_message_fk "
            "DEFERRABLE INITIALLY DEFERRED;",
            "ALTER TABLE message_client_ids ALTER CONSTRAINT message_client_ids_message_fk NOT DEFERRABLE;",
        ),
        migrations.AlterField(
            model_name='message',
            name='room',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='messages', to='chatroom.room'),
        ),
        migrations.AlterField(
            model_name='message',
            name='user',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='chat_messages', to=settings.AUTH_USER_MODEL),
        ),
    ]
