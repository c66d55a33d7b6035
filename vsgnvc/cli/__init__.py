"""The ``gnvc`` command line."""
