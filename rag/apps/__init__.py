"""Front ends: the CLI and the web page render the presentation model and compose nothing."""
