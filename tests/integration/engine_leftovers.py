"""Which of a build's own step images are still on the engine, unnamed and unused (a leftover)."""
import docker

from adapters.engine import step_images_from_log


def build_leftovers(build) -> list[str]:
    text = "".join(build.log_chunks.filter(step="build").order_by("seq").values_list("text", flat=True))
    ids = step_images_from_log(text)
    if not ids:
        return []
    api = docker.APIClient(version="auto")
    parents = None
    left = []
    for image_id in ids:
        try:
            details = api.inspect_image(image_id)
        except docker.errors.NotFound:
            continue
        if details.get("RepoTags") or details.get("RepoDigests"):
            continue
        if parents is None:
            parents = {image.get("ParentId") for image in api.images(all=True)}
        if details["Id"] not in parents:
            left.append(image_id)
    return left
