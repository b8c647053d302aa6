"""What the socket tells those who count it (ops: /metrics and the
per-minute samples). Higher apps connect; realtime imports none of them.
Sent from the socket's event loop, so receivers must be quick and must not
touch the database. Each caches its receivers per sender (use_caching): the
senders are a few classes, and the lookup otherwise runs on every frame."""

from django.dispatch import Signal

# A socket was accepted / ended (once per accepted socket).
socket_opened = Signal(use_caching=True)
socket_closed = Signal(use_caching=True)
# A frame came in (frame_type: its "type", or "invalid") / went out.
frame_received = Signal(use_caching=True)  # frame_type
frame_sent = Signal(use_caching=True)  # frame_type
# A live message.new went to a socket (cursor: the message's), as the
# channel layer fanned it out. One signal per delivery, the hottest path:
# it is also that frame's frame_sent. (Catch-ups from the database send
# frame_sent only.)
message_delivered = Signal(use_caching=True)  # cursor
