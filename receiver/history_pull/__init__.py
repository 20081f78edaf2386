"""The history pull (#18): flowtrack downloads the execution history of its launches
from Genesys after they end, and stores it as events with source ``history``."""
