"""The shell that runs in a target's container: quoting, script builders, fixed scripts."""
