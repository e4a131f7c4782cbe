"""The command line: parser, commands and the renderers of events."""
