"""Shared parts every app may use (the bottom layer, beside config and
realtime): errors, partition maintenance, the partial-update convention."""
