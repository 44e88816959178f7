"""Great Expectations gates on the raw event tables and the marts, run before publishing."""
