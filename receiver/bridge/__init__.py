"""The notification bridge (#18): flowtrack holds its own Genesys notification channels
and stores every flow message they bring, like a callback."""
