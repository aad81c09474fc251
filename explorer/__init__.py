"""ngx-explore's user side: the Textual app and the command line."""
