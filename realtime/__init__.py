"""The only code that touches the channel layer: group names, broadcast on
commit, presence, the socket consumer and the frame-handler registry."""
