"""Global search: vulnerability ids, the user's teams' images and builds, and the packages of their current images."""
