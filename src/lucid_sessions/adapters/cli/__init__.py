"""The operator's command line: argument parsing and the commands, each calling use cases."""
