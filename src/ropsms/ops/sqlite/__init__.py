"""Django's SQLite backend with a fair cross-process write lock (see `base`)."""
