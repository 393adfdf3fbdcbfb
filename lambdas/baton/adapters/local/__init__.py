"""The embedded backend: SQLite state, files for artifacts/cache/logs, threads, the system clock."""
