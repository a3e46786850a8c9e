"""Uploaded packages (tar.gz, tar, zip) inspected without unpacking and re-packed as a clean tar. Pure."""
