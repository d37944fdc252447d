"""The `txdata` command line: thin typer commands over the library."""
