"""Bad-input tables, one module per format (issue 12, item 9): every malformed case names its file, its line or
record and its reason, is counted once under that reason with ``--on-error skip``, and leaves nothing loadable
when the build stops."""
