"""logpipe SDK: send logs to a logpipe endpoint and read them back."""
