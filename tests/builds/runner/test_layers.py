"""Which step images a published build keeps as the engine's layer cache (pure: read from a log)."""
from adapters.engine import step_images_read
from builds.runner.layers import package_layer_tips

LOG = """Step 1/5 : FROM 127.0.0.1:5000/base/debian@sha256:00
 ---> 111111111111
Step 2/5 : COPY portal-apt-lists /var/lib/apt/lists
 ---> 222222222222
Step 3/5 : RUN apt-get install -y --no-install-recommends tzdata && rm -rf /var/lib/apt/lists/*
 ---> Using cache
 ---> 333333333333
Step 4/5 : RUN ln -sf /usr/share/zoneinfo/UTC /etc/localtime
 ---> Running in abcdefabcdef
 ---> 444444444444
Step 5/5 : LABEL io.image-portal.build=7
 ---> 555555555555
Step 1/3 : FROM 555555555555
 ---> 555555555555
Step 2/3 : RUN sh /tmp/image-env.sh
 ---> 666666666666
Step 3/3 : USER 10001
 ---> 777777777777
"""


def test_it_reads_each_step_with_its_engine_build():
    steps = step_images_read(LOG)
    assert [(s.run, s.number, s.image_id) for s in steps] == [
        (1, 2, "222222222222"), (1, 3, "333333333333"), (1, 4, "444444444444"), (1, 5, "555555555555"),
        (2, 2, "666666666666"), (2, 3, "777777777777")]


def test_it_keeps_the_top_package_transaction_of_each_engine_build_only():
    assert package_layer_tips(step_images_read(LOG)) == ["333333333333"]
    assert package_layer_tips(step_images_read(LOG.replace("apt-get install", "echo"))) == []


def test_a_later_stage_s_from_is_never_read_as_the_build_s_own_image():
    log = ("Step 1/4 : FROM 127.0.0.1:5000/base/busybox@sha256:00 AS build\n ---> 111111111111\n"
           "Step 2/4 : RUN make\n ---> 222222222222\n"
           "Step 3/4 : FROM 127.0.0.1:5000/base/busybox@sha256:00\n ---> 111111111111\n"
           "Step 4/4 : COPY --from=build /out /app\n ---> 444444444444\n")
    assert [step.image_id for step in step_images_read(log)] == ["222222222222", "444444444444"]


def test_a_cache_layer_the_engine_no_longer_has_does_not_stop_the_cleanup(build, settings):
    from unittest import mock

    from adapters.engine import EngineError
    from builds.models import Build, BuildLogChunk
    from builds.runner.layers import build_layers_clean

    Build.objects.filter(pk=build.pk).update(status=Build.Status.SUCCEEDED, published_reference="r@sha256:0")
    build.refresh_from_db()
    BuildLogChunk.objects.create(build=build, seq=0, first_line=1, step="build", text=LOG)
    with mock.patch("builds.runner.layers.image_untag_if_ours"), \
         mock.patch("builds.runner.layers.image_tag_keep", side_effect=EngineError("No such image")), \
         mock.patch("builds.runner.layers.dangling_images_remove", return_value=["444444444444"]) as remove:
        assert build_layers_clean(build=build) == ["444444444444"]
    assert "444444444444" in remove.call_args.kwargs["image_ids"]
