"""The build worker's side: the pipeline of steps, the build context per recipe kind, the build stage
and its images, the shared package lists and the package cache, cleanup of step images, and the
reaper of stuck builds."""
