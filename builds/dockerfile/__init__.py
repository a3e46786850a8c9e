"""Own Dockerfiles: accepted only when every FROM resolves to an approved base (resolve, args,
image_reference: pure), saved with a checked context archive (services), built from the pinned
Dockerfile (context); their pages and API."""
