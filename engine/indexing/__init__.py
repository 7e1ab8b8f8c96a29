"""The index run: what to do (new, changed, vanished and bad files), then doing it, as a
cancellable generator of events."""
