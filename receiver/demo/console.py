"""The demo's last words: where the web console is, and the key to sign in with."""

from __future__ import annotations

from collections.abc import Callable

from receiver.settings import Settings


def announce(say: Callable[[str], None], base_url: str, api_key: str, settings: Settings) -> None:
    """Print the console's address and a key that signs in to it (a write key)."""
    say("")
    if not settings.console.enabled:
        say("The web console is off (FLOWTRACK_UI=0).")
        return
    say(f"Web console: {base_url}/ui/")
    say(f"  sign in with the API key {api_key}")
    say("  (launches, their timelines, flow graphs, dead letters; Terminate with this key)")
