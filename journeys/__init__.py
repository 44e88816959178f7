"""One command's journey from its HTTP answer to the views: sources, assembly, terminal view."""
