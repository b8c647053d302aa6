"""What chat tells those who count it (ops: /metrics and the per-minute
samples). Higher apps connect; chatroom imports none of them."""

from django.dispatch import Signal

# A message was stored (message_send's chat_message_post answered "posted";
# the transaction may still roll back). Receivers must be quick.
message_posted = Signal()  # message
