# The socket tests here use the chat tests' users and rooms.
from tests.chatroom.conftest import make_room, make_user, member_of, pair  # noqa: F401
