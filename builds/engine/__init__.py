"""The only code that talks to the Docker Engine. A worker on another host is a setting (DOCKER_HOST)."""
